use healthcheck::healthcheck;

#[healthcheck(name = "db", name = "database")]
fn database() -> bool {
    true
}

fn main() {}
