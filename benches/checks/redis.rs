//! `checks::redis` against a local `redis-server`, over `PING` on a `ConnectionManager`.

use healthcheck::checks;

use crate::servers::redis;
use crate::{Row, compare};

pub(crate) fn bench(runtime: &tokio::runtime::Runtime) -> Row {
    let server = redis::start(None);
    let url = redis::url(&server, None);
    let client = ::redis::Client::open(url.as_str()).expect("the URL parses");
    let manager = runtime
        .block_on(::redis::aio::ConnectionManager::new(client))
        .expect("a connection");
    let row = compare(
        runtime,
        "redis",
        move || {
            let mut manager = manager.clone();
            async move {
                ::redis::cmd("PING")
                    .query_async::<String>(&mut manager)
                    .await
                    .is_ok()
            }
        },
        checks::redis("redis", &url),
    );
    drop(server);
    row
}
