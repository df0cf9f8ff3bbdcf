// `crate = "..."` lets a crate that re-exports healthcheck use the attribute without depending on
// healthcheck directly.

mod sdk {
    pub use healthcheck;
}

use sdk::healthcheck::healthcheck;

#[healthcheck(crate = "sdk::healthcheck")]
fn through_relative_path() -> bool {
    true
}

#[healthcheck(crate = "crate::sdk::healthcheck")]
async fn through_crate_path() -> bool {
    true
}

mod nested {
    use super::sdk::healthcheck::{Component, healthcheck};

    #[healthcheck(crate = "super::sdk::healthcheck")]
    fn through_super(component: &mut Component) {
        component.set_healthy(true);
    }
}

fn main() {}
