//! The health endpoints as a tower service, served by hyper directly.
//!
//! Run it with `cargo run --example hyper_tower`, then `curl localhost:3000/livez?verbose`.

use healthcheck::http::HttpOptions;
use healthcheck::http::tower::HealthService;
use healthcheck::{HealthChecks, healthcheck};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;

#[healthcheck(probes = ["liveness"])]
fn heart() -> bool {
    true
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let service = HealthService::new(HttpOptions::new().build(HealthChecks::builder().build()?)?);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    loop {
        let (stream, _) = listener.accept().await?;
        let service = TowerToHyperService::new(service.clone());
        tokio::spawn(async move {
            let _ = auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
