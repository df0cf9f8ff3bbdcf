use healthcheck::healthcheck;

#[healthcheck(failure_threshold = 0)]
fn flaky() -> bool {
    true
}

#[healthcheck(success_threshold = "2")]
fn stubborn() -> bool {
    true
}

#[healthcheck(failure_threshold = 5000000000)]
fn patient() -> bool {
    true
}

fn main() {}
