use healthcheck::healthcheck;

#[healthcheck(timeout = "soon")]
unsafe fn everything_wrong<T>(_retries: u8, _delay: u8) -> u32 {
    0
}

fn main() {}
