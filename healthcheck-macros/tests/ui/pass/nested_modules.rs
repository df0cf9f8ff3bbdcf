// Checks in nested modules, in a function body, and with the same function name in several
// modules.

mod outer {
    use healthcheck::healthcheck;

    #[healthcheck]
    fn check() -> bool {
        true
    }

    pub(crate) mod inner {
        use healthcheck::{Component, healthcheck};

        #[healthcheck(name = "inner check")]
        fn check(component: &mut Component) {
            component.set_healthy(true);
        }

        mod innermost {
            #[healthcheck::healthcheck(name = "innermost check")]
            async fn check() -> Result<(), std::io::Error> {
                Ok(())
            }
        }
    }
}

mod sibling {
    use healthcheck::healthcheck;

    #[healthcheck(name = "sibling check")]
    async fn check() -> bool {
        true
    }
}

fn main() {
    #[healthcheck::healthcheck(name = "local check")]
    fn local() -> bool {
        true
    }
}
