//! `healthcheck`: probe a health endpoint (Docker's `HEALTHCHECK` without `curl`), read a
//! fleet store, beat a heartbeat, follow the service registry, generate configuration.
//! See `healthcheck --help`.

fn main() -> std::process::ExitCode {
    healthcheck::cli::Standalone::main()
}
