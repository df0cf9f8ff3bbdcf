use healthcheck::healthcheck;

#[healthcheck(critical = "yes")]
fn important() -> bool {
    true
}

fn main() {}
