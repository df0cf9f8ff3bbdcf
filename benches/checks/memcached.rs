//! `checks::memcached` against a loopback memcached, over `async_memcached::Client::version` on
//! a connection kept between calls, as the checker keeps its own.

use std::sync::Arc;

use healthcheck::checks;
use tokio::sync::Mutex;

use crate::servers::memcached;
use crate::{Row, compare};

pub(crate) fn bench(runtime: &tokio::runtime::Runtime) -> Row {
    let server = memcached::start();
    let dsn = format!("tcp://{}", server.addr);
    let client = runtime
        .block_on(async_memcached::Client::new(&dsn))
        .expect("a memcached connection");
    let client = Arc::new(Mutex::new(client));
    let row = compare(
        runtime,
        "memcached",
        move || {
            let client = Arc::clone(&client);
            async move { client.lock().await.version().await.is_ok() }
        },
        checks::memcached("memcached", server.addr.to_string()),
    );
    drop(server);
    row
}
