// Every accepted form of an async check.

use std::fmt;
use std::time::Duration;

use healthcheck::{Component, Status, healthcheck};
use serde::Serialize;

#[healthcheck]
async fn returns_bool() -> bool {
    tokio::time::sleep(Duration::from_millis(1)).await;
    true
}

#[healthcheck]
async fn returns_unit_result() -> Result<(), std::io::Error> {
    tokio::task::yield_now().await;
    Ok(())
}

#[healthcheck]
async fn returns_string_error() -> Result<(), String> {
    Err("connection refused".to_owned())
}

#[healthcheck]
async fn returns_json() -> Result<serde_json::Value, std::io::Error> {
    Ok(serde_json::json!({ "queued_jobs": 423 }))
}

#[derive(Serialize)]
struct Queue {
    queued_jobs: u32,
}

#[derive(Debug)]
struct QueueError;

impl fmt::Display for QueueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("queue unreachable")
    }
}

#[healthcheck]
async fn returns_struct() -> Result<Queue, QueueError> {
    Ok(Queue { queued_jobs: 423 })
}

#[healthcheck]
async fn returns_component() -> Component {
    Component::healthy().field("version", "1.2.3")
}

#[healthcheck]
async fn returns_status() -> Status {
    Status::Degraded
}

#[healthcheck]
async fn fills_component(component: &mut Component) {
    tokio::task::yield_now().await;
    component.set_healthy(true);
    component.insert("queued_jobs", 423);
}

#[healthcheck]
pub async fn public_check() -> bool {
    true
}

fn main() {}
