use healthcheck::{Component, healthcheck};

#[healthcheck]
fn by_value(component: Component) {
    let _ = component;
}

fn main() {}
