use healthcheck::healthcheck;

#[healthcheck]
fn borrowing<'a>() -> bool {
    true
}

fn main() {}
