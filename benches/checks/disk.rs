//! `checks::disk` on the temporary directory, over `rustix::fs::statvfs`: called from async code
//! the way a user must (on the blocking pool, `spawn_blocking`), and inline on the worker (which
//! blocks the executor for the syscall, shown for scale), and as a plain `Check::blocking`
//! making the same call and reporting the same fields: the runner's own cost of one run (a few
//! microseconds: its blocking thread, the report) is most of the difference from
//! `spawn_blocking` when the call itself takes one microsecond.

use healthcheck::{Check, HealthChecks, MetricsConfig, checks};

use crate::{Row, compare};

pub(crate) fn bench(runtime: &tokio::runtime::Runtime) -> Vec<Row> {
    let dir = std::env::temp_dir();
    let check = || {
        checks::disk("disk", &dir)
            .degraded_below("0%")
            .unhealthy_below("0%")
            .inodes_degraded_below("0%")
            .inodes_unhealthy_below("0%")
    };
    let blocking = {
        let dir = dir.clone();
        move || {
            let dir = dir.clone();
            async move {
                tokio::task::spawn_blocking(move || rustix::fs::statvfs(&dir).is_ok())
                    .await
                    .unwrap_or(false)
            }
        }
    };
    let inline = {
        let dir = dir.clone();
        move || {
            let ok = rustix::fs::statvfs(&dir).is_ok();
            async move { ok }
        }
    };
    // The runner's own share: a plain blocking check making the same call, with the same fields.
    let health = HealthChecks::builder()
        .without_registered_checks()
        .metrics(MetricsConfig::disabled())
        .check(Check::blocking("plain", {
            let dir = dir.clone();
            move || {
                let s = rustix::fs::statvfs(&dir).map_err(std::io::Error::from)?;
                Ok::<_, std::io::Error>(serde_json::json!({
                    "path": "/tmp", "free_bytes": s.f_bavail, "total_bytes": s.f_blocks,
                    "free_percent": 1.5, "free_inodes": s.f_favail, "total_inodes": s.f_files,
                    "free_inodes_percent": 2.5,
                }))
            }
        }))
        .build()
        .expect("the plain check builds");
    let health = std::sync::Arc::new(health);
    let plain = move || {
        let health = std::sync::Arc::clone(&health);
        async move { health.run().await.service_healthy }
    };
    vec![
        compare(runtime, "disk (raw in spawn_blocking)", blocking, check()),
        compare(runtime, "disk (raw inline)", inline, check()),
        compare(
            runtime,
            "disk (raw: a plain Check::blocking)",
            plain,
            check(),
        ),
    ]
}
