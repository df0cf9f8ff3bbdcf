use healthcheck::healthcheck;

#[healthcheck(probes = ["liveness", "ready"])]
fn probed() -> bool {
    true
}

fn main() {}
