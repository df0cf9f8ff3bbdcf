//! `checks::postgres` against a local PostgreSQL, over `SELECT 1` on a pooled
//! `deadpool-postgres` client with the same settings (two connections, fast recycling).

use healthcheck::checks;

use crate::servers::postgres::Postgres;
use crate::{Row, compare};

pub(crate) fn bench(runtime: &tokio::runtime::Runtime) -> Row {
    let server = Postgres::start();
    let url = server.url();
    let config: tokio_postgres::Config = url.parse().expect("the URL parses");
    let manager = deadpool_postgres::Manager::from_config(
        config,
        tokio_postgres::NoTls,
        deadpool_postgres::ManagerConfig {
            recycling_method: deadpool_postgres::RecyclingMethod::Fast,
        },
    );
    let pool = deadpool_postgres::Pool::builder(manager)
        .max_size(2)
        .build()
        .expect("a pool");
    let row = compare(
        runtime,
        "postgres",
        move || {
            let pool = pool.clone();
            async move {
                match pool.get().await {
                    Ok(client) => client.simple_query("SELECT 1").await.is_ok(),
                    Err(_) => false,
                }
            }
        },
        checks::postgres("postgres", &url),
    );
    drop(server);
    row
}
