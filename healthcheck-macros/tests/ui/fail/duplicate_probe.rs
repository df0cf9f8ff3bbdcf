use healthcheck::healthcheck;

#[healthcheck(probes = ["readiness", "liveness", "readiness"])]
fn probed() -> bool {
    true
}

fn main() {}
