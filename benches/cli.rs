//! The standalone `healthcheck` binary as Docker's `HEALTHCHECK` runs it: the wall time of one
//! `healthcheck probe URL` against a server on loopback, from spawning the process to its exit
//! (target ≤ 5 ms), beside that of `healthcheck --version` (the process's start and exit alone),
//! and the binary's size, as built and stripped.
//!
//! `cargo bench --bench cli`. The binary is built first, in release with the `cli` feature only
//! (as `cargo install healthcheck --features cli` builds it), in a target directory of its own
//! (`target/cli-bench`): the outer cargo's build is not disturbed, and no feature that the
//! benchmarks turn on for the SDK ends up in the binary. The server is the tests' scripted HTTP
//! server (`/ok` answers 200), on a thread and runtime of its own.

#![allow(clippy::print_stdout)] // Printing is what this program is for.

#[path = "../tests/support/http_server.rs"]
#[allow(dead_code, unreachable_pub)]
mod http_server;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use http_server::HttpServer;

/// Untimed runs of each command first: the binary in the page cache, the server's runtime awake.
const WARM_UP: usize = 20;
/// Timed runs of each command, taking turns.
const RUNS: usize = 300;
/// The wall time one probe may take.
const TARGET: Duration = Duration::from_millis(5);

fn main() {
    let target = target_dir().join("cli-bench");
    let binary = build(&target);
    println!();
    sizes(&binary, &target);
    println!();
    times(&binary);
}

/// The target directory the benchmark was built in: `<target>/release/deps/cli-<hash>`.
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the benchmark's path");
    exe.ancestors()
        .nth(3)
        .expect("the benchmark runs from <target>/release/deps")
        .to_path_buf()
}

/// Builds the standalone binary in release with the `cli` feature only, in `target`, and returns
/// its path.
fn build(target: &Path) -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let started = Instant::now();
    let status = Command::new(cargo)
        .args([
            "build",
            "--release",
            "-p",
            "healthcheck",
            "--bin",
            "healthcheck",
            "--no-default-features",
            "--features",
            "cli",
        ])
        .env("CARGO_TARGET_DIR", target)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .expect("cargo runs");
    assert!(status.success(), "the standalone binary does not build");
    let binary = target
        .join("release")
        .join(format!("healthcheck{}", std::env::consts::EXE_SUFFIX));
    assert!(binary.is_file(), "no binary at {}", binary.display());
    println!(
        "Built `{}` (release, feature `cli` only) in {:.1?}.",
        binary.display(),
        started.elapsed()
    );
    binary
}

/// The binary's size as built, and stripped of its symbols when `strip` is there.
fn sizes(binary: &Path, target: &Path) {
    let size = |path: &Path| std::fs::metadata(path).expect("the binary's size").len();
    let row = |what: &str, bytes: u64| {
        println!(
            "| {what} | {bytes} | {:.2} MiB |",
            bytes as f64 / (1024.0 * 1024.0)
        );
    };
    println!("| binary | bytes | size |");
    println!("|---|---:|---:|");
    row(
        "`healthcheck`, release profile, feature `cli` only",
        size(binary),
    );
    let stripped = target.join(format!(
        "healthcheck-stripped{}",
        std::env::consts::EXE_SUFFIX
    ));
    std::fs::copy(binary, &stripped).expect("a copy of the binary");
    match Command::new("strip").arg(&stripped).status() {
        Ok(status) if status.success() => row("the same, stripped (`strip`)", size(&stripped)),
        Ok(status) => println!("| the same, stripped | `strip` failed ({status}) | |"),
        Err(error) => println!("| the same, stripped | no `strip` to run ({error}) | |"),
    }
}

/// Wall times of the three commands, taking turns, against a server on loopback.
fn times(binary: &Path) {
    let server = HttpServer::start();
    let url = server.url("/ok");
    let version = [String::from("--version")];
    let probe = [String::from("probe"), url.clone()];
    let verbose = [String::from("probe"), url.clone(), String::from("-v")];

    for _ in 0..WARM_UP {
        spawn_to_exit(binary, &version);
        spawn_to_exit(binary, &probe);
        probe_verbose(binary, &verbose);
    }
    let mut version_times = Vec::with_capacity(RUNS);
    let mut probe_times = Vec::with_capacity(RUNS);
    let mut verbose_times = Vec::with_capacity(RUNS);
    let mut requests = Vec::with_capacity(RUNS);
    for run in 0..RUNS {
        // Each command first, second and third in turn, so that none always follows another.
        for turn in 0..3 {
            match (run + turn) % 3 {
                0 => version_times.push(spawn_to_exit(binary, &version)),
                1 => probe_times.push(spawn_to_exit(binary, &probe)),
                _ => {
                    let (took, request) = probe_verbose(binary, &verbose);
                    verbose_times.push(took);
                    requests.push(request);
                }
            }
        }
    }
    let seen = server.requests().len();
    assert_eq!(
        seen,
        2 * (WARM_UP + RUNS),
        "every probe makes one request, and only the probes do"
    );
    drop(server);

    let version = Percentiles::of(version_times);
    let probe = Percentiles::of(probe_times);
    let verbose = Percentiles::of(verbose_times);
    let request = Percentiles::of(requests);
    println!(
        "| spawn to exit, {RUNS} runs of each, taking turns after {WARM_UP} | p50 | p99 | max | \
         target | result |"
    );
    println!("|---|---:|---:|---:|---|---|");
    println!(
        "| `healthcheck --version` (the process's start and exit alone) | {} | {} | {} | | |",
        ms(version.p50),
        ms(version.p99),
        ms(version.max)
    );
    let result = match (probe.p50 <= TARGET, probe.p99 <= TARGET) {
        (true, true) => "met at p50 and p99",
        (true, false) => "met at p50, not at p99",
        (false, _) => "**not met**",
    };
    println!(
        "| `healthcheck probe http://127.0.0.1:<port>/ok` | {} | {} | {} | ≤ {} | {result} |",
        ms(probe.p50),
        ms(probe.p99),
        ms(probe.max),
        ms(TARGET)
    );
    println!(
        "| `healthcheck probe http://127.0.0.1:<port>/ok -v` (output read through a pipe) | {} | \
         {} | {} | | |",
        ms(verbose.p50),
        ms(verbose.p99),
        ms(verbose.max)
    );
    println!(
        "| the probe's own share: `probe` − `--version`, percentile by percentile | {} | {} | | \
         | |",
        ms(probe.p50.saturating_sub(version.p50)),
        ms(probe.p99.saturating_sub(version.p99))
    );
    println!(
        "| the request alone, as `probe -v` times it (connect, GET, status; 0.1 ms resolution) \
         | {} | {} | {} | | |",
        ms(request.p50),
        ms(request.p99),
        ms(request.max)
    );
}

/// The wall time of one run of `binary args`, from spawning it to its exit, which must be 0.
fn spawn_to_exit(binary: &Path, args: &[String]) -> Duration {
    let started = Instant::now();
    let status = Command::new(binary)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("the binary runs");
    let took = started.elapsed();
    if status.code() != Some(0) {
        // Again, to say why.
        let output = Command::new(binary).args(args).output();
        panic!(
            "`healthcheck {}` exited with {status}: {output:?}",
            args.join(" ")
        );
    }
    took
}

/// The wall time of one `probe -v`, and the request's time as it prints it (`200 in 0.4 ms`).
fn probe_verbose(binary: &Path, args: &[String]) -> (Duration, Duration) {
    let started = Instant::now();
    let output = Command::new(binary)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("the binary runs");
    let took = started.elapsed();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "`healthcheck {}`: {output:?}",
        args.join(" ")
    );
    let request = stdout
        .strip_prefix("200 in ")
        .and_then(|rest| rest.trim_end().strip_suffix(" ms"))
        .and_then(|ms| ms.parse::<f64>().ok())
        .unwrap_or_else(|| panic!("`probe -v` printed {stdout:?}; expected `200 in <ms> ms`"));
    (took, Duration::from_secs_f64(request / 1e3))
}

/// Nearest-rank percentiles of a set of times.
struct Percentiles {
    p50: Duration,
    p99: Duration,
    max: Duration,
}

impl Percentiles {
    fn of(mut samples: Vec<Duration>) -> Self {
        assert!(!samples.is_empty(), "no sample");
        samples.sort_unstable();
        let rank = |q: f64| {
            let index = (q * samples.len() as f64).ceil() as usize;
            samples[index.clamp(1, samples.len()) - 1]
        };
        Self {
            p50: rank(0.50),
            p99: rank(0.99),
            max: rank(1.0),
        }
    }
}

/// `duration` in milliseconds, two decimals.
fn ms(duration: Duration) -> String {
    format!("{:.2} ms", duration.as_secs_f64() * 1e3)
}
