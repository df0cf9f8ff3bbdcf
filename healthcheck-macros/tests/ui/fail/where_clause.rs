use healthcheck::healthcheck;

#[healthcheck]
fn bounded() -> bool
where
    u8: Copy,
{
    true
}

fn main() {}
