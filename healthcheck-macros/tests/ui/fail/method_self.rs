use healthcheck::healthcheck;

struct Database;

impl Database {
    #[healthcheck]
    fn ping(&self) -> bool {
        true
    }
}

fn main() {}
