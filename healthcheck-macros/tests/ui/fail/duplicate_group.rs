use healthcheck::healthcheck;

#[healthcheck(groups = ["back", "front", "back"])]
fn grouped() -> bool {
    true
}

fn main() {}
