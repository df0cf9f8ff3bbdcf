use healthcheck::healthcheck;

#[healthcheck]
fn wrong_target(text: &mut String) {
    text.push('x');
}

fn main() {}
