//! What a service says about itself beyond its checks (feature `status`): its build, at
//! `GET <base>/environ` (oarepo-heartbeat's environment endpoint), and its status at
//! `GET <base>/status` (the daemon library's: name, version, start, uptime, checks, workers,
//! metrics and store state, its configuration with secrets masked as `*** HIDDEN ***`).

mod environ;
mod service;

pub use environ::Environ;
pub(crate) use service::mark_started;
pub use service::{HIDDEN, ServiceStatus};
