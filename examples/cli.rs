//! An application with the `healthcheck` subcommands mounted: its own checks, run from a
//! terminal, a cron job or a monitoring agent.
//!
//! ```sh
//! cargo run --example cli -- healthcheck check                  # one line per component
//! cargo run --example cli -- healthcheck check -g db --format monrun
//! cargo run --example cli -- healthcheck list
//! cargo run --example cli -- healthcheck gen k8s --port 8080
//! cargo run --example cli -- healthcheck --help
//! ```
//!
//! `EXAMPLE_DATABASE_DOWN=1` makes its database check fail and `EXAMPLE_CACHE_SLOW=1` its cache
//! check degraded, to see the exit codes change; `HEALTHCHECK_STORE=redis://...` gives `state`
//! and `beat` a fleet store.

#![allow(clippy::print_stdout, clippy::print_stderr)] // Printing is what this program is for.

use std::process::ExitCode;
use std::time::Duration;

use healthcheck::{Component, HealthChecks, Heartbeat, healthcheck};

/// The database answers (here: unless `EXAMPLE_DATABASE_DOWN` is set).
#[healthcheck(groups = ["db"], timeout = "1s")]
async fn database() -> Result<(), String> {
    if std::env::var_os("EXAMPLE_DATABASE_DOWN").is_some() {
        return Err("connection refused".to_owned());
    }
    Ok(())
}

/// The cache answers quickly enough (here: slowly when `EXAMPLE_CACHE_SLOW` is set).
#[healthcheck(groups = ["cache"], critical = false)]
fn cache(component: &mut Component) {
    if std::env::var_os("EXAMPLE_CACHE_SLOW").is_some() {
        component.set_degraded("slow: 250 ms per GET");
    } else {
        component.set_healthy(true);
    }
}

fn main() -> ExitCode {
    let health = match HealthChecks::builder()
        .service("cli-example")
        // Beaten by the backup job through the fleet store (`healthcheck beat nightly_backup`);
        // a process that just started gives it a day's grace.
        .heartbeat(
            Heartbeat::new("nightly_backup", Duration::from_secs(25 * 3600))
                .groups(["jobs"])
                .critical(false)
                .grace_period(Duration::from_secs(25 * 3600)),
        )
        .build()
    {
        Ok(health) => health,
        Err(error) => {
            eprintln!("cli-example: {error}");
            return ExitCode::from(healthcheck::cli::EXIT_USAGE);
        }
    };
    // `cli healthcheck ...`: the subcommand runs, prints and says how to exit.
    if let Some(code) = healthcheck::cli::dispatch_blocking(&health) {
        return code;
    }
    println!("cli-example: the service would start here; try `healthcheck --help` as arguments");
    ExitCode::SUCCESS
}
