//! What a service says about itself beyond its checks (feature `status`): its build, at
//! `GET <base>/environ` (oarepo-heartbeat's environment endpoint), and its status at
//! `GET <base>/status` (the daemon library's: name, version, start, uptime, checks, workers,
//! metrics and store state, its configuration with secrets masked as `*** HIDDEN ***`), and
//! an HTML status page at `GET <base>/status.html` (django-alive's page of check → group → host:
//! the verdict, each check with a sparkline of its recent runs, the fleet's grid).

mod environ;
mod page;
mod service;

pub use environ::Environ;
pub(crate) use page::{PageInput, render as render_page};
pub use page::{STATUS_PAGE_PATH, StatusPage};
pub(crate) use service::mark_started;
pub use service::{HIDDEN, ServiceStatus};
