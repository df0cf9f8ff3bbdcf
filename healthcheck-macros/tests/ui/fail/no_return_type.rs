use healthcheck::healthcheck;

#[healthcheck]
fn nothing() {}

fn main() {}
