//! What a service says about itself beyond its checks (feature `status`): today its build, at
//! `GET <base>/environ` (oarepo-heartbeat's environment endpoint).

mod environ;

pub use environ::Environ;
