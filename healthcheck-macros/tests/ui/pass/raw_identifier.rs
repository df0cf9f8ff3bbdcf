// Raw identifiers as function names: the default check name drops the `r#`.

use healthcheck::{Component, healthcheck};

#[healthcheck]
fn r#type() -> bool {
    true
}

#[healthcheck]
async fn r#match() -> bool {
    true
}

#[healthcheck]
fn r#impl(component: &mut Component) {
    component.set_healthy(true);
}

#[healthcheck]
async fn r#struct(component: &mut Component) {
    component.set_healthy(true);
}

fn main() {}
