use healthcheck::healthcheck;

#[healthcheck(timeout = "fast")]
fn quick() -> bool {
    true
}

fn main() {}
