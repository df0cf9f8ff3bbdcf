use healthcheck::{Component, healthcheck};

#[healthcheck]
fn both(component: &mut Component) -> bool {
    component.set_healthy(true);
    true
}

fn main() {}
