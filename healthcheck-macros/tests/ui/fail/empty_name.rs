use healthcheck::healthcheck;

#[healthcheck(name = "")]
fn anonymous() -> bool {
    true
}

fn main() {}
