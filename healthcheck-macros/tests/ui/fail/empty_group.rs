use healthcheck::healthcheck;

#[healthcheck(groups = ["back", ""])]
fn grouped() -> bool {
    true
}

fn main() {}
