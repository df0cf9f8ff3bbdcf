//! The command line: run checks and read state from a terminal, a probe for Docker's
//! `HEALTHCHECK`, and generated monitoring configuration (feature `cli`, on clap).
//!
//! Two ways in:
//!
//! - **Inside the application's own binary**, where its checks are linked in:
//!   [`HealthcheckCommand`] is a clap subcommand tree (`check`, `state`, `beat`, `list`, `gen`)
//!   to mount under the application's own parser, or [`dispatch`] / [`dispatch_blocking`]
//!   handle the arguments when the first one is `healthcheck` (`myservice healthcheck check`).
//! - **The standalone `healthcheck` binary** (`cargo install healthcheck --features cli`), for
//!   use outside the application: `probe URL` (one HTTP GET, for images without `curl`),
//!   `state`/`beat` against a fleet store, `watch` of the service registry, `gen` of the
//!   configuration that needs no application.
//!
//! Exit codes mean the same everywhere: [`EXIT_HEALTHY`] 0, [`EXIT_DEGRADED`] 1 (configurable
//! with `--degraded-exit`), [`EXIT_UNHEALTHY`] 2 (also a store or endpoint that cannot be
//! reached), [`EXIT_USAGE`] 3 (a bad flag, value or configuration). `probe` keeps to Docker's
//! contract: 0 healthy, 1 not. Errors are one line on standard error; nothing panics.
//!
//! # Example
//! ```no_run
//! use healthcheck::HealthChecks;
//!
//! fn main() -> std::process::ExitCode {
//!     let health = HealthChecks::builder().build().expect("valid checks");
//!     // `myservice healthcheck check --format monrun` and friends:
//!     if let Some(code) = healthcheck::cli::dispatch_blocking(&health) {
//!         return code;
//!     }
//!     // ... the service itself.
//!     std::process::ExitCode::SUCCESS
//! }
//! ```

mod commands;
// `gen` is a reserved word since the 2024 edition.
#[path = "gen.rs"]
mod generate;
mod probe;
mod standalone;

use std::ffi::OsString;
use std::process::ExitCode;

use clap::{CommandFactory, Parser};

use crate::health::HealthChecks;

pub use commands::{BeatArgs, CheckArgs, Format, ListArgs, ListFormat, ProbeName, StateArgs};
pub use generate::{
    CronArgs, DatadogArgs, DockerArgs, GenArgs, GenContext, GenKind, HttpEndpoint, K8sArgs,
    MonrunArgs,
};
pub use probe::ProbeArgs;
pub use standalone::{Standalone, StandaloneCommand};

/// Everything is healthy.
pub const EXIT_HEALTHY: u8 = 0;
/// Something is degraded (by default; `--degraded-exit` chooses).
pub const EXIT_DEGRADED: u8 = 1;
/// Something is unhealthy, or a store or endpoint cannot be reached.
pub const EXIT_UNHEALTHY: u8 = 2;
/// A bad flag, value or configuration.
pub const EXIT_USAGE: u8 = 3;

/// The `healthcheck` subcommands of an application's binary.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum HealthcheckCommand {
    /// Runs the checks in this process and prints the report.
    Check(CheckArgs),
    /// Prints the fleet's state (check → group → host) from the shared store.
    State(StateArgs),
    /// Beats a heartbeat through the shared store (for a cron job next to the service).
    Beat(BeatArgs),
    /// Lists the registered checks with their options and where each is defined.
    List(ListArgs),
    /// Prints ready-to-use configuration: cron, monrun, Kubernetes probes, Docker, Datadog.
    Gen(GenArgs),
    /// Prints a shell completion script for these subcommands.
    Completions(CompletionsArgs),
}

/// `completions`: a shell's completion script.
#[derive(Debug, Clone, clap::Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// The completion script of `command` for `shell`.
pub(crate) fn completions(mut command: clap::Command, shell: clap_complete::Shell) -> Outcome {
    let name = command.get_name().to_owned();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, name, &mut script);
    Outcome::out(EXIT_HEALTHY, String::from_utf8_lossy(&script).into_owned())
}

/// `healthcheck <subcommand>` as a parser of its own, for [`dispatch`].
#[derive(Debug, Clone, Parser)]
#[command(
    name = "healthcheck",
    about = "Run this service's health checks, read the fleet's state, beat heartbeats and \
             generate monitoring configuration.",
    after_help = "Exit codes: 0 healthy, 1 degraded (see --degraded-exit), 2 unhealthy or \
                  unreachable, 3 usage or configuration error."
)]
pub struct HealthcheckCli {
    /// What to do.
    #[command(subcommand)]
    pub command: HealthcheckCommand,
}

/// What a command printed and how it ended, before anything is printed: the exit code, and
/// the text for standard output and standard error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The process's exit code.
    pub code: u8,
    /// For standard output.
    pub stdout: String,
    /// For standard error (one line per error).
    pub stderr: String,
}

impl Outcome {
    pub(crate) fn out(code: u8, stdout: impl Into<String>) -> Self {
        Self {
            code,
            stdout: stdout.into(),
            stderr: String::new(),
        }
    }

    pub(crate) fn error(code: u8, message: impl std::fmt::Display) -> Self {
        Self {
            code,
            stdout: String::new(),
            stderr: format!("healthcheck: {}\n", one_line(&message.to_string())),
        }
    }

    /// Prints the texts and returns the exit code: what a `main` returns.
    #[allow(clippy::print_stdout, clippy::print_stderr)] // The command line prints.
    #[must_use]
    pub fn print(self) -> ExitCode {
        use std::io::Write;
        // A closed pipe (`| head`) is not an error worth a panic.
        let _ = std::io::stdout().write_all(self.stdout.as_bytes());
        let _ = std::io::stdout().flush();
        let _ = std::io::stderr().write_all(self.stderr.as_bytes());
        ExitCode::from(self.code)
    }
}

/// `text` on one line: line breaks become spaces.
pub(crate) fn one_line(text: &str) -> String {
    text.split(['\n', '\r'])
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

impl HealthcheckCommand {
    /// Runs the command against `health`, on the current Tokio runtime.
    pub async fn run(self, health: &HealthChecks) -> Outcome {
        match self {
            Self::Check(args) => commands::check(health, &args).await,
            Self::State(args) => commands::state(health, &args).await,
            Self::Beat(args) => commands::beat(health, &args).await,
            Self::List(args) => commands::list(health, &args),
            Self::Gen(args) => commands::generate(health, &args),
            Self::Completions(args) => {
                // The application's program, with `healthcheck` under it.
                let program = std::env::args_os()
                    .next()
                    .map_or_else(|| "app".to_owned(), |arg0| program_name(&arg0));
                let tree = clap::Command::new(program)
                    .subcommand_required(true)
                    .subcommand(HealthcheckCli::command().name("healthcheck"));
                completions(tree, args.shell)
            }
        }
    }
}

/// The clap command of `healthcheck <subcommand>`, for completions and help.
#[must_use]
pub fn command() -> clap::Command {
    HealthcheckCli::command()
}

/// Parses `args` (the program's name first, then `healthcheck`, then the subcommand) if the
/// first argument after the program's name is `healthcheck`; `None` otherwise. A usage error
/// or `--help` is an [`Outcome`] too (code 3, or 0 for help).
pub fn parse<I, T>(args: I) -> Option<Result<HealthcheckCommand, Outcome>>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let mut args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    if args.get(1).is_none_or(|first| first != "healthcheck") {
        return None;
    }
    let program = program_name(&args[0]);
    args.remove(0);
    let parsed = in_app_command(&program)
        .try_get_matches_from(args)
        .and_then(|matches| <HealthcheckCli as clap::FromArgMatches>::from_arg_matches(&matches));
    Some(
        parsed
            .map(|cli| cli.command)
            .map_err(|error| clap_outcome(&error)),
    )
}

/// The file name of the program, as a shell calls it.
fn program_name(arg0: &OsString) -> String {
    std::path::Path::new(arg0).file_name().map_or_else(
        || "app".to_owned(),
        |name| name.to_string_lossy().into_owned(),
    )
}

/// `healthcheck`'s command as the subcommand of `program`: help and errors say
/// `Usage: program healthcheck ...`.
fn in_app_command(program: &str) -> clap::Command {
    HealthcheckCli::command().bin_name(format!("{program} healthcheck"))
}

/// The outcome of clap's error (a usage error, or the help or version it prints).
pub(crate) fn clap_outcome(error: &clap::Error) -> Outcome {
    use clap::error::ErrorKind;
    let rendered = error.render().to_string();
    match error.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => Outcome::out(
            if error.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                EXIT_USAGE
            } else {
                EXIT_HEALTHY
            },
            rendered,
        ),
        _ => Outcome {
            code: EXIT_USAGE,
            stdout: String::new(),
            stderr: rendered,
        },
    }
}

/// Handles the process's arguments when the first one is `healthcheck`, printing what the
/// command prints; `None` when it is not (the application goes on). For an `async fn main`.
pub async fn dispatch(health: &HealthChecks) -> Option<ExitCode> {
    let command = match parse(std::env::args_os())? {
        Ok(command) => command,
        Err(outcome) => return Some(outcome.print()),
    };
    Some(command.run(health).await.print())
}

/// [`dispatch`] for a synchronous `main`, with or without a Tokio runtime around it: the
/// command runs on a runtime of its own, on a thread of its own.
pub fn dispatch_blocking(health: &HealthChecks) -> Option<ExitCode> {
    let command = match parse(std::env::args_os())? {
        Ok(command) => command,
        Err(outcome) => return Some(outcome.print()),
    };
    Some(run_blocking(health, command).print())
}

/// Runs `command` on a runtime of its own, on a thread of its own.
pub fn run_blocking(health: &HealthChecks, command: HealthcheckCommand) -> Outcome {
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime.block_on(command.run(health)),
                    Err(error) => Outcome::error(EXIT_USAGE, format!("no runtime: {error}")),
                }
            })
            .join()
            .unwrap_or_else(|_| Outcome::error(EXIT_UNHEALTHY, "the command panicked"))
    })
}
