//! The standalone `healthcheck` binary as Docker's `HEALTHCHECK` runs it: the wall time of one
//! `healthcheck probe URL` against a server on loopback, from spawning the process to its exit
//! (target ≤ 5 ms), beside those of `healthcheck --version` (the binary's start and exit alone)
//! and of `true` (any process's), and the binary's size, as built and stripped.
//!
//! `cargo bench --bench cli`. The binary is built first, in release with the `cli` feature only
//! (as `cargo install healthcheck --features cli` builds it), in a target directory of its own
//! (`target/cli-bench`): the outer cargo's build is not disturbed, and no feature that the
//! benchmarks turn on for the SDK ends up in the binary. The server is the tests' scripted HTTP
//! server (`/ok` answers 200), on a thread and runtime of its own.

#![allow(clippy::print_stdout)] // Printing is what this program is for.

#[path = "support/timing.rs"]
mod timing;

#[path = "../tests/support/http_server.rs"]
#[allow(dead_code, unreachable_pub)]
mod http_server;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use timing::{Percentiles, ms};

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
        "`{}` (release, feature `cli` only) is built: cargo took {:.1?}.",
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

/// The commands timed.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `true`: the machine's cost of a process.
    True,
    /// `healthcheck --version`.
    Version,
    /// `healthcheck probe URL`.
    Probe,
    /// `healthcheck probe URL -v`: its output is read, and the request's time in it kept.
    ProbeVerbose,
}

/// A command timed, and its times.
struct Subject {
    kind: Kind,
    label: &'static str,
    program: PathBuf,
    args: Vec<String>,
    times: Vec<Duration>,
    /// `probe -v`: the request's time as the probe printed it.
    requests: Vec<Duration>,
}

impl Subject {
    fn new(kind: Kind, label: &'static str, program: &Path, args: &[&str]) -> Self {
        Self {
            kind,
            label,
            program: program.to_path_buf(),
            args: args.iter().map(|&arg| arg.to_owned()).collect(),
            times: Vec::with_capacity(RUNS),
            requests: Vec::with_capacity(RUNS),
        }
    }

    /// One run: its wall time, from spawning the process to its exit (which must be 0).
    fn run(&mut self) -> Duration {
        if self.kind == Kind::ProbeVerbose {
            let (took, request) = probe_verbose(&self.program, &self.args);
            self.requests.push(request);
            took
        } else {
            spawn_to_exit(&self.program, &self.args)
        }
    }
}

/// Wall times of the commands, taking turns, against a server on loopback.
fn times(binary: &Path) {
    let server = HttpServer::start();
    let url = server.url("/ok");
    let mut subjects = Vec::new();
    // The machine's own cost of a process, when there is a `true` to run.
    if Command::new("true").status().is_ok_and(|s| s.success()) {
        subjects.push(Subject::new(
            Kind::True,
            "`true` (the machine's cost of starting a process)",
            Path::new("true"),
            &[],
        ));
    }
    subjects.push(Subject::new(
        Kind::Version,
        "`healthcheck --version` (the binary's start and exit alone)",
        binary,
        &["--version"],
    ));
    subjects.push(Subject::new(
        Kind::Probe,
        "`healthcheck probe http://127.0.0.1:<port>/ok`",
        binary,
        &["probe", &url],
    ));
    subjects.push(Subject::new(
        Kind::ProbeVerbose,
        "`healthcheck probe http://127.0.0.1:<port>/ok -v` (its output read through a pipe)",
        binary,
        &["probe", &url, "-v"],
    ));

    for _ in 0..WARM_UP {
        for subject in &mut subjects {
            subject.run();
        }
    }
    subjects.iter_mut().for_each(|s| s.requests.clear());
    let count = subjects.len();
    for run in 0..RUNS {
        // Rounds of one run each, every command opening a round in turn: drift on the machine
        // hits them alike.
        for turn in 0..count {
            let subject = &mut subjects[(run + turn) % count];
            let took = subject.run();
            subject.times.push(took);
        }
    }
    assert_eq!(
        server.requests().len(),
        2 * (WARM_UP + RUNS),
        "every probe makes one request, and only the probes do"
    );
    drop(server);

    println!(
        "| spawn to exit, {RUNS} runs of each, taking turns after {WARM_UP} | p50 | p99 | max | \
         target | result |"
    );
    println!("|---|---:|---:|---:|---|---|");
    let mut version = None;
    let mut probe = None;
    let mut request = None;
    for subject in &subjects {
        let times = Percentiles::of(&subject.times);
        let (target, result) = if subject.kind == Kind::Probe {
            let result = match (times.p50 <= TARGET, times.p99 <= TARGET) {
                (true, true) => "met at p50 and p99",
                (true, false) => "met at p50, not at p99",
                (false, _) => "**not met**",
            };
            (format!("≤ {}", ms(TARGET)), result)
        } else {
            (String::new(), "")
        };
        println!(
            "| {} | {} | {} | {} | {target} | {result} |",
            subject.label,
            ms(times.p50),
            ms(times.p99),
            ms(times.max)
        );
        match subject.kind {
            Kind::True => {}
            Kind::Version => version = Some(times),
            Kind::Probe => probe = Some(times),
            Kind::ProbeVerbose => request = Some(Percentiles::of(&subject.requests)),
        }
    }
    let (Some(version), Some(probe), Some(request)) = (version, probe, request) else {
        unreachable!("every subject was timed");
    };
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
