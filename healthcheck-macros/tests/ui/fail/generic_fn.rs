use healthcheck::healthcheck;

#[healthcheck]
fn generic<T: Default>() -> bool {
    let _ = T::default();
    true
}

fn main() {}
