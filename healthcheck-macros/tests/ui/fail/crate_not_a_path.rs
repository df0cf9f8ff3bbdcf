use healthcheck::healthcheck;

#[healthcheck(crate = "not a path!")]
fn check() -> bool {
    true
}

fn main() {}
