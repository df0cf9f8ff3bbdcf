use healthcheck::healthcheck;

#[healthcheck]
fn unit() -> () {}

fn main() {}
