use healthcheck::healthcheck;

#[healthcheck]
fn count() -> u32 {
    42
}

fn main() {}
