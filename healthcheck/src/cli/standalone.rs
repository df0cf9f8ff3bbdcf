//! The standalone `healthcheck` binary: the subcommands that need no application.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

use super::commands::{Format, parse_duration};
use super::generate::GenArgs;
use super::probe::{ProbeArgs, probe};
use super::{EXIT_HEALTHY, EXIT_USAGE, Outcome, clap_outcome};
use crate::fleet::{FleetConfig, FleetFilter, FleetReduce, Heartbeat};
use crate::health::HealthChecks;

/// `healthcheck`, the standalone binary.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "healthcheck",
    version,
    about = "Probe a service's health endpoint, read a fleet store, beat a heartbeat, follow the \
             service registry, generate monitoring configuration.",
    after_help = "Exit codes: 0 healthy, 1 degraded (probe: not healthy), 2 unhealthy or \
                  unreachable, 3 usage or configuration error."
)]
pub struct Standalone {
    /// What to do.
    #[command(subcommand)]
    pub command: StandaloneCommand,
}

/// The standalone binary's subcommands.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum StandaloneCommand {
    /// One HTTP GET: exit 0 when the status is expected, 1 otherwise (Docker's HEALTHCHECK).
    Probe(ProbeArgs),
    /// The fleet's state from a store, as `<app> healthcheck state` prints it.
    State(StoreStateArgs),
    /// Beats a heartbeat in a store, as `<app> healthcheck beat` does.
    Beat(StoreBeatArgs),
    /// Follows the service registry, one line per event.
    #[cfg(feature = "registry")]
    Watch(WatchArgs),
    /// Prints configuration that needs no application: k8s, docker, datadog-monitor.
    Gen(GenArgs),
    /// Prints a shell completion script for this binary.
    Completions(super::CompletionsArgs),
}

/// `state` against a store.
#[derive(Debug, Clone, clap::Args)]
pub struct StoreStateArgs {
    /// The fleet store: redis://, postgres://, etcd://, sqlite:///path.
    #[arg(long, env = "HEALTHCHECK_STORE")]
    pub store: String,
    /// The service to read (`*`, the default, for every service).
    #[arg(long, default_value = "*")]
    pub service: String,
    /// Only this group.
    #[arg(short = 'g', long = "group")]
    pub group: Option<String>,
    /// Only this check.
    #[arg(short = 'c', long = "check")]
    pub check: Option<String>,
    /// The fleet's rule: all, any, quorum:N.
    #[arg(long, default_value = "all", value_parser = |s: &str| s.parse::<FleetReduce>())]
    pub reduce: FleetReduce,
    /// How long a result stays fresh when it does not say.
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    pub freshness: Duration,
    /// How to print the state.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// `beat` against a store.
#[derive(Debug, Clone, clap::Args)]
pub struct StoreBeatArgs {
    /// The fleet store: redis://, postgres://, etcd://, sqlite:///path.
    #[arg(long, env = "HEALTHCHECK_STORE")]
    pub store: String,
    /// The service the heartbeat belongs to.
    #[arg(long)]
    pub service: String,
    /// The heartbeat's name.
    pub name: String,
    /// Beat as failed, with this message.
    #[arg(long, value_name = "MESSAGE")]
    pub failed: Option<String>,
    /// How long to wait for the store to take the beat.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub timeout: Duration,
}

/// `watch` of the service registry.
#[cfg(feature = "registry")]
#[derive(Debug, Clone, clap::Args)]
pub struct WatchArgs {
    /// The registry: etcd://host:2379,host2:2379.
    #[arg(long, env = "HEALTHCHECK_REGISTRY")]
    pub registry: String,
    /// The registry's key prefix.
    #[arg(long, default_value = crate::registry::DEFAULT_PREFIX)]
    pub prefix: String,
    /// Only instances of this type.
    #[arg(long = "type")]
    pub kind: Option<String>,
    /// Only instances in this region.
    #[arg(long)]
    pub region: Option<String>,
}

impl Standalone {
    /// Parses the process's arguments, runs the command and prints what it prints: the
    /// binary's `main`.
    #[must_use]
    pub fn main() -> ExitCode {
        let command = match Self::try_parse() {
            Ok(cli) => cli.command,
            Err(error) => return clap_outcome(&error).print(),
        };
        let runtime = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(runtime) => runtime,
            Err(error) => {
                return Outcome::error(EXIT_USAGE, format!("no runtime: {error}")).print();
            }
        };
        #[cfg(feature = "registry")]
        if let StandaloneCommand::Watch(args) = &command {
            return runtime.block_on(watch(args));
        }
        runtime.block_on(command.run()).print()
    }
}

impl StandaloneCommand {
    /// Runs the command (all but `watch`, which prints as it goes).
    pub async fn run(self) -> Outcome {
        match self {
            Self::Probe(args) => probe(&args).await,
            Self::State(args) => state(&args).await,
            Self::Beat(args) => beat(&args).await,
            #[cfg(feature = "registry")]
            Self::Watch(_) => Outcome::error(EXIT_USAGE, "watch prints as it goes; see main"),
            Self::Completions(args) => {
                super::completions(<Standalone as clap::CommandFactory>::command(), args.shell)
            }
            Self::Gen(args) => match args.render_standalone() {
                Ok(text) => Outcome::out(EXIT_HEALTHY, text),
                Err(message) => Outcome::error(EXIT_USAGE, message),
            },
        }
    }
}

/// A `HealthChecks` of no check of its own, on the store at `url`.
fn on_store(url: &str, service: &str, fleet: FleetConfig) -> Result<HealthChecks, Outcome> {
    let mut builder = HealthChecks::builder()
        .without_registered_checks()
        .metrics(crate::metrics::MetricsConfig::disabled())
        .fleet(fleet.store_url(url));
    if service != "*" {
        builder = builder.service(service);
    }
    builder
        .build()
        .map_err(|error| Outcome::error(EXIT_USAGE, error))
}

async fn state(args: &StoreStateArgs) -> Outcome {
    let health = match on_store(
        &args.store,
        &args.service,
        FleetConfig::new().read_only().freshness(args.freshness),
    ) {
        Ok(health) => health,
        Err(outcome) => return outcome,
    };
    let filter = if args.service == "*" {
        FleetFilter::new().all_services()
    } else {
        FleetFilter::new()
    };
    super::commands::read_state(
        &health.fleet().with_reduce(args.reduce.clone()),
        filter,
        args.group.as_deref(),
        args.check.as_deref(),
        args.format,
    )
    .await
}

async fn beat(args: &StoreBeatArgs) -> Outcome {
    let health = match HealthChecks::builder()
        .without_registered_checks()
        .metrics(crate::metrics::MetricsConfig::disabled())
        .service(args.service.clone())
        .heartbeat(Heartbeat::new(args.name.clone(), Duration::from_secs(3600)))
        .fleet(FleetConfig::new().store_url(&args.store))
        .build()
    {
        Ok(health) => health,
        Err(error) => return Outcome::error(EXIT_USAGE, error),
    };
    super::commands::beat(
        &health,
        &super::commands::BeatArgs {
            name: args.name.clone(),
            failed: args.failed.clone(),
            timeout: args.timeout,
        },
    )
    .await
}

/// Follows the registry until the process is stopped, one line per event.
#[cfg(feature = "registry")]
#[allow(clippy::print_stdout)] // The command line prints.
async fn watch(args: &WatchArgs) -> ExitCode {
    use std::io::Write;

    use crate::registry::{Registry, RegistryEvent, RegistryFilter};

    let registry = match Registry::etcd(args.registry.clone())
        .prefix(args.prefix.clone())
        .build()
    {
        Ok(registry) => registry,
        Err(error) => return Outcome::error(EXIT_USAGE, error).print(),
    };
    let mut filter = RegistryFilter::new();
    if let Some(kind) = &args.kind {
        filter = filter.kind(kind.clone());
    }
    if let Some(region) = &args.region {
        filter = filter.region(region.clone());
    }
    let mut watch = registry.watch(filter);
    let mut out = std::io::stdout();
    while let Some(event) = watch.next().await {
        let line = match &event {
            RegistryEvent::Up(i) => format!("UP {} {} {}", i.id, i.kind, i.host),
            RegistryEvent::Down(i, reason) => {
                format!("DOWN {} {} {} {}", i.id, i.kind, i.host, reason)
            }
        };
        if writeln!(out, "{}", super::one_line(&line))
            .and_then(|()| out.flush())
            .is_err()
        {
            // The reader went away (`| head`).
            return ExitCode::SUCCESS;
        }
    }
    Outcome::error(super::EXIT_UNHEALTHY, "the watch could not start").print()
}
