use healthcheck::healthcheck;

#[healthcheck]
unsafe fn raw_pointers() -> bool {
    true
}

fn main() {}
