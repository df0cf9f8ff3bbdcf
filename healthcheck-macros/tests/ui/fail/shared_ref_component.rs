use healthcheck::{Component, healthcheck};

#[healthcheck]
fn shared(component: &Component) {
    let _ = component;
}

fn main() {}
