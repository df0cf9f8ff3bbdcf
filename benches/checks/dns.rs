//! `checks::dns` with the system's resolver on `localhost`, over `tokio::net::lookup_host`.

use healthcheck::checks;

use crate::{Row, compare};

pub(crate) fn bench(runtime: &tokio::runtime::Runtime) -> Row {
    compare(
        runtime,
        "dns",
        || async {
            tokio::net::lookup_host(("localhost", 0))
                .await
                .is_ok_and(|mut addrs| addrs.next().is_some())
        },
        checks::dns("dns", "localhost"),
    )
}
