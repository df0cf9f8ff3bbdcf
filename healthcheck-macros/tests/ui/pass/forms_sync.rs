// Every accepted form of a blocking check.

use std::fmt;

use healthcheck::{Component, IntoComponent, Status, healthcheck};
use serde::Serialize;

#[healthcheck]
fn returns_bool() -> bool {
    true
}

#[healthcheck]
fn returns_unit_result() -> Result<(), std::io::Error> {
    Ok(())
}

#[healthcheck]
fn returns_string_error() -> Result<(), String> {
    Err("connection refused".to_owned())
}

#[healthcheck]
fn returns_json() -> Result<serde_json::Value, std::io::Error> {
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
fn returns_struct() -> Result<Queue, QueueError> {
    Ok(Queue { queued_jobs: 423 })
}

#[healthcheck]
fn returns_component() -> Component {
    Component::healthy().field("version", "1.2.3")
}

#[healthcheck]
fn returns_status() -> Status {
    Status::Degraded
}

#[healthcheck]
fn fills_component(component: &mut Component) {
    component.set_healthy(true);
    component.insert("queued_jobs", 423);
}

#[healthcheck]
fn fills_component_explicit_unit(component: &mut Component) -> () {
    component.set_healthy(true);
}

#[healthcheck]
fn returns_boxed_error() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    Ok(())
}

#[healthcheck]
fn returns_impl_trait() -> impl IntoComponent {
    true
}

#[healthcheck]
fn ignores_component(_: &mut Component) {}

#[healthcheck]
fn rebinds_component(mut component: &mut Component) {
    component.set_healthy(true);
    let rebound: &mut &mut Component = &mut component;
    rebound.insert("rebound", true);
}

#[healthcheck]
pub fn public_check() -> bool {
    true
}

#[healthcheck]
pub(crate) fn crate_visible_check() -> bool {
    true
}

#[healthcheck]
const fn const_check() -> bool {
    true
}

fn main() {}
