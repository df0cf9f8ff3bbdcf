use healthcheck::{Component, healthcheck};

#[healthcheck]
fn two(component: &mut Component, retries: u32) {
    let _ = (component, retries);
}

fn main() {}
