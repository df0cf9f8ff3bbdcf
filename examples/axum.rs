//! The health endpoints merged into an axum application.
//!
//! Run it with `cargo run --example axum`, then `curl localhost:3000/readyz?verbose`.

use healthcheck::http::HttpOptions;
use healthcheck::{HealthChecks, healthcheck};

#[healthcheck(probes = ["liveness", "readiness"])]
async fn database() -> Result<(), std::io::Error> {
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let health = HttpOptions::new().build(HealthChecks::builder().build()?)?;
    let app = axum::Router::new()
        .route("/", axum::routing::get(|| async { "hello" }))
        .merge(healthcheck::http::axum::router(health));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    axum::serve(listener, app).await?;
    Ok(())
}
