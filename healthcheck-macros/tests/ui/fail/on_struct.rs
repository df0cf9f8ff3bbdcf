use healthcheck::healthcheck;

#[healthcheck]
struct Database {
    url: String,
}

fn main() {}
