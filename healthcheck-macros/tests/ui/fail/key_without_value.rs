use healthcheck::healthcheck;

#[healthcheck(critical)]
fn check() -> bool {
    true
}

fn main() {}
