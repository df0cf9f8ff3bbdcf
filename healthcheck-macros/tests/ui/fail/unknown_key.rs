use healthcheck::healthcheck;

#[healthcheck(retries = 3)]
fn flaky() -> bool {
    true
}

fn main() {}
