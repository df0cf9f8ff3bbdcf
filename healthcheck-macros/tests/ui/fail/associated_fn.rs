use healthcheck::healthcheck;

struct Database;

impl Database {
    #[healthcheck]
    fn ping() -> bool {
        true
    }
}

fn main() {}
