use healthcheck::healthcheck;

#[derive(Debug)]
struct NotDisplay;

#[healthcheck]
fn opaque_error() -> Result<(), NotDisplay> {
    Err(NotDisplay)
}

fn main() {}
