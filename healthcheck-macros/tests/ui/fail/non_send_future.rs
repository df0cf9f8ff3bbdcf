use std::rc::Rc;

use healthcheck::healthcheck;

#[healthcheck]
async fn holds_rc() -> bool {
    let shared = Rc::new(1);
    tokio::task::yield_now().await;
    *shared == 1
}

fn main() {}
