//! The health endpoints configured into an actix-web application.
//!
//! Run it with `cargo run --example actix`, then `curl localhost:3000/healthcheck`.

use actix_web::{App, HttpServer, web};
use healthcheck::http::HttpOptions;
use healthcheck::{HealthChecks, healthcheck};

#[healthcheck(probes = ["liveness", "readiness"])]
fn disk() -> bool {
    std::path::Path::new("/").exists()
}

#[actix_web::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let health = HttpOptions::new().build(HealthChecks::builder().build()?)?;
    HttpServer::new(move || {
        App::new()
            .route("/", web::get().to(|| async { "hello" }))
            .configure(healthcheck::http::actix::configure(health.clone()))
    })
    .bind(("127.0.0.1", 3000))?
    .run()
    .await?;
    Ok(())
}
