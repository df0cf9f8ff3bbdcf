use healthcheck::healthcheck;

#[healthcheck(probes = [])]
fn in_no_probe() -> bool {
    true
}

fn main() {}
