use healthcheck::healthcheck;

#[healthcheck(timeout = "1000years")]
fn check() -> bool {
    true
}

fn main() {}
