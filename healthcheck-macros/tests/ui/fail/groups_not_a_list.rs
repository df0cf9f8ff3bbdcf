use healthcheck::healthcheck;

#[healthcheck(groups = "back")]
fn check() -> bool {
    true
}

fn main() {}
