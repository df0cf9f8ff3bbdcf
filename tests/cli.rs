//! The command line, run as real child processes: the example application with the
//! `healthcheck` subcommands mounted (`examples/cli.rs`), and the standalone `healthcheck`
//! binary. Every subcommand and format, exit codes, standard output and standard error;
//! `probe` against a real HTTP server that is healthy, failing, slow and absent; `state` and
//! `beat` against a real Redis.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use support::http_server::HttpServer;
use support::servers::redis;

/// The directory of the test binaries' build (`target/debug`).
fn build_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary");
    // target/debug/deps/cli-<hash>
    exe.parent()
        .and_then(Path::parent)
        .expect("target/debug")
        .to_path_buf()
}

/// Builds `target` (`--example cli`, `--bin healthcheck`) of `package` with every feature, in
/// the build directory of the tests (cargo lets go of it while tests run), and returns its
/// path. Already built by the test build, it only checks that it is up to date.
fn built(package: &str, target: &[&str]) -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let output = Command::new(cargo)
        .args(["build", "--quiet", "--all-features", "--package", package])
        .args(target)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo runs");
    assert!(
        output.status.success(),
        "{target:?} does not build:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let name = target[1];
    match target[0] {
        "--example" => build_dir().join("examples").join(name),
        _ => build_dir().join(name),
    }
}

/// The example application (`examples/cli.rs`), with the SDK's and the example's variables
/// cleared.
fn app() -> Command {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    let path = BUILT.get_or_init(|| built("healthcheck-suite", &["--example", "cli"]));
    let mut command = Command::new(path);
    for (name, _) in std::env::vars() {
        if name.starts_with("HEALTHCHECK_")
            || name.starts_with("DD_")
            || name.starts_with("EXAMPLE_")
        {
            command.env_remove(name);
        }
    }
    // No agent around: metrics stay off.
    command.env("HEALTHCHECK_STATSD_ENABLED", "false");
    command
}

/// The standalone `healthcheck` binary.
fn standalone() -> Command {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    let path = BUILT.get_or_init(|| built("healthcheck", &["--bin", "healthcheck"]));
    let mut command = Command::new(path);
    for (name, _) in std::env::vars() {
        if name.starts_with("HEALTHCHECK_") {
            command.env_remove(name);
        }
    }
    command
}

struct Ran {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(command: &mut Command, args: &[&str]) -> Ran {
    let Output {
        status,
        stdout,
        stderr,
    } = command.args(args).output().expect("the program runs");
    let ran = Ran {
        code: status.code().expect("exited, not killed"),
        stdout: String::from_utf8(stdout).expect("UTF-8"),
        stderr: String::from_utf8(stderr).expect("UTF-8"),
    };
    assert!(
        !ran.stderr.contains("panicked") && !ran.stderr.contains("RUST_BACKTRACE"),
        "{}",
        ran.stderr
    );
    ran
}

#[test]
fn check_prints_each_format_with_exit_codes_that_mean_something() {
    let healthy = run(&mut app(), &["healthcheck", "check"]);
    assert_eq!(healthy.code, 0, "{}{}", healthy.stdout, healthy.stderr);
    assert!(
        healthy.stdout.contains("database -> OK"),
        "{}",
        healthy.stdout
    );
    assert!(healthy.stdout.contains("cache -> OK"), "{}", healthy.stdout);
    assert!(healthy.stderr.is_empty(), "{}", healthy.stderr);

    let json = run(&mut app(), &["healthcheck", "check", "--format", "json"]);
    assert_eq!(json.code, 0);
    let report: serde_json::Value = serde_json::from_str(&json.stdout).expect("JSON");
    assert_eq!(report["service_healthy"], true);
    assert!(report["components"]["database"]["response_time"].is_number());

    let monrun = run(&mut app(), &["healthcheck", "check", "--format", "monrun"]);
    assert_eq!((monrun.code, monrun.stdout.as_str()), (0, "0;OK\n"));

    let degraded = run(
        app().env("EXAMPLE_CACHE_SLOW", "1"),
        &["healthcheck", "check", "--format", "monrun"],
    );
    assert_eq!(
        (degraded.code, degraded.stdout.as_str()),
        (1, "1;WARN cache\n")
    );
    let degraded_ok = run(
        app().env("EXAMPLE_CACHE_SLOW", "1"),
        &["healthcheck", "check", "--degraded-exit", "0"],
    );
    assert_eq!(degraded_ok.code, 0);
    assert!(
        degraded_ok.stdout.contains("cache -> DEGRADED"),
        "{}",
        degraded_ok.stdout
    );

    let failing = run(
        app().env("EXAMPLE_DATABASE_DOWN", "1"),
        &["healthcheck", "check", "--format", "monrun"],
    );
    assert_eq!(
        (failing.code, failing.stdout.as_str()),
        (2, "2;FAIL database\n")
    );
    let failing_text = run(
        app().env("EXAMPLE_DATABASE_DOWN", "1"),
        &["healthcheck", "check"],
    );
    assert_eq!(failing_text.code, 2);
    assert!(
        failing_text.stdout.contains("connection refused"),
        "{}",
        failing_text.stdout
    );
}

#[test]
fn check_selects_groups_checks_and_probes() {
    let db = run(
        app().env("EXAMPLE_CACHE_SLOW", "1"),
        &["healthcheck", "check", "-g", "db", "--format", "json"],
    );
    assert_eq!(db.code, 0, "only the database ran: {}", db.stdout);
    let report: serde_json::Value = serde_json::from_str(&db.stdout).expect("JSON");
    let names: Vec<&String> = report["components"]
        .as_object()
        .expect("components")
        .keys()
        .collect();
    assert_eq!(names, ["database"]);

    let named = run(
        app().env("EXAMPLE_DATABASE_DOWN", "1"),
        &["healthcheck", "check", "-c", "cache", "--format", "monrun"],
    );
    assert_eq!((named.code, named.stdout.as_str()), (0, "0;OK\n"));

    let both = run(
        &mut app(),
        &[
            "healthcheck",
            "check",
            "-g",
            "db",
            "-c",
            "cache",
            "--format",
            "json",
        ],
    );
    let report: serde_json::Value = serde_json::from_str(&both.stdout).expect("JSON");
    assert_eq!(
        report["components"].as_object().expect("components").len(),
        2
    );

    let liveness = run(
        &mut app(),
        &[
            "healthcheck",
            "check",
            "--probe",
            "liveness",
            "--format",
            "json",
        ],
    );
    assert_eq!(liveness.code, 0, "{}", liveness.stderr);
}

#[test]
fn bad_input_is_one_line_on_stderr_and_exit_code_3() {
    for args in [
        &["healthcheck", "check", "-g", "nosuchgroup"][..],
        &["healthcheck", "check", "-c", "nosuchcheck"],
        &["healthcheck", "check", "--format", "yaml"],
        &["healthcheck", "check", "--degraded-exit", "7"],
        &["healthcheck", "check", "--bogus"],
        &["healthcheck", "nosuchcommand"],
        &["healthcheck", "beat", "nosuchbeat"],
        &["healthcheck", "state", "--reduce", "quorum:0"],
    ] {
        let ran = run(&mut app(), args);
        assert_eq!(ran.code, 3, "{args:?}: {}{}", ran.stdout, ran.stderr);
        assert!(ran.stdout.is_empty(), "{args:?}: {}", ran.stdout);
        assert!(!ran.stderr.is_empty(), "{args:?}");
    }
    let group = run(&mut app(), &["healthcheck", "check", "-g", "nosuchgroup"]);
    assert_eq!(
        group.stderr,
        "healthcheck: no check is in group `nosuchgroup` (groups: cache, db, jobs)\n"
    );
    // Not `healthcheck` first: the application goes on.
    let service = run(&mut app(), &[]);
    assert_eq!(service.code, 0);
    assert!(service.stdout.contains("the service would start here"));
    // Help explains, and is not an error.
    let help = run(&mut app(), &["healthcheck", "check", "--help"]);
    assert_eq!(help.code, 0);
    assert!(help.stdout.contains("--degraded-exit"), "{}", help.stdout);
    assert!(help.stdout.contains("monrun"), "{}", help.stdout);
    assert!(
        help.stdout.contains("Usage: cli healthcheck check"),
        "{}",
        help.stdout
    );
    let list_monrun = run(&mut app(), &["healthcheck", "list", "--format", "monrun"]);
    assert_eq!(list_monrun.code, 3, "{}", list_monrun.stdout);
}

#[test]
fn list_shows_each_check_with_its_options_and_where_it_is_defined() {
    let text = run(&mut app(), &["healthcheck", "list"]);
    assert_eq!(text.code, 0);
    let database = text
        .stdout
        .lines()
        .find(|line| line.starts_with("database "))
        .expect("a database line");
    assert!(database.contains("timeout=1s"), "{database}");
    assert!(database.contains("groups=db"), "{database}");
    assert!(database.contains("examples/cli.rs:"), "{database}");
    let json = run(&mut app(), &["healthcheck", "list", "--format", "json"]);
    let list: serde_json::Value = serde_json::from_str(&json.stdout).expect("JSON");
    let cache = list
        .as_array()
        .expect("an array")
        .iter()
        .find(|c| c["name"] == "cache")
        .expect("cache");
    assert_eq!(cache["critical"], false);
    assert_eq!(cache["blocking"], true);
    assert!(
        cache["location"]
            .as_str()
            .expect("a location")
            .contains("examples/cli.rs")
    );
}

#[test]
fn state_and_beat_go_through_a_real_redis() {
    let server = redis::start(None);
    let url = redis::url(&server, None);
    let with_store = || {
        let mut command = app();
        command.env("HEALTHCHECK_STORE", &url);
        command
    };
    // Nothing published yet: the fleet cannot vouch for anything.
    let empty = run(
        &mut with_store(),
        &["healthcheck", "state", "--format", "monrun"],
    );
    assert_eq!(empty.code, 2, "{}{}", empty.stdout, empty.stderr);

    let ran = run(&mut with_store(), &["healthcheck", "check"]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let state = run(
        &mut with_store(),
        &["healthcheck", "state", "--format", "json"],
    );
    assert_eq!(state.code, 0, "{}{}", state.stdout, state.stderr);
    let view: serde_json::Value = serde_json::from_str(&state.stdout).expect("JSON");
    assert_eq!(view["healthy"], true);
    assert!(
        view["services"]["cli-example"]["database"].is_object(),
        "{view}"
    );
    let monrun = run(
        &mut with_store(),
        &["healthcheck", "state", "--format", "monrun"],
    );
    assert_eq!((monrun.code, monrun.stdout.as_str()), (0, "0;OK\n"));
    let text = run(&mut with_store(), &["healthcheck", "state", "-g", "db"]);
    assert!(text.stdout.contains("database"), "{}", text.stdout);

    // A failing run elsewhere fails the fleet's rule.
    let failing = run(
        with_store()
            .env("EXAMPLE_DATABASE_DOWN", "1")
            .env("HEALTHCHECK_INSTANCE", "other"),
        &["healthcheck", "check"],
    );
    assert_eq!(failing.code, 2);
    let all = run(
        &mut with_store(),
        &["healthcheck", "state", "--format", "monrun"],
    );
    assert_eq!(all.code, 2, "{}", all.stdout);
    assert!(all.stdout.starts_with("2;FAIL "), "{}", all.stdout);
    let any = run(
        &mut with_store(),
        &[
            "healthcheck",
            "state",
            "--reduce",
            "any",
            "--format",
            "monrun",
        ],
    );
    assert_eq!((any.code, any.stdout.as_str()), (0, "0;OK\n"));

    // Beats from cron jobs, through the store: the application's own `beat`, then the
    // standalone binary's, each seen by the next `check` of another process.
    let jobs = |command: &mut Command| {
        let ran = run(
            command,
            &["healthcheck", "check", "-g", "jobs", "--format", "json"],
        );
        let report: serde_json::Value = serde_json::from_str(&ran.stdout).expect("JSON");
        report["components"]["nightly_backup"].clone()
    };
    let beat = run(
        &mut with_store(),
        &[
            "healthcheck",
            "beat",
            "nightly_backup",
            "--failed",
            "disk full",
        ],
    );
    assert_eq!(
        (beat.code, beat.stdout.as_str()),
        (0, ""),
        "{}",
        beat.stderr
    );
    let seen = jobs(&mut with_store());
    assert_eq!(seen["status"], "unhealthy", "{seen}");
    assert!(
        seen["status_message"]
            .as_str()
            .expect("a message")
            .contains("disk full"),
        "{seen}"
    );
    let beat_ok = run(
        &mut standalone(),
        &[
            "beat",
            "--store",
            &url,
            "--service",
            "cli-example",
            "nightly_backup",
        ],
    );
    assert_eq!(beat_ok.code, 0, "{}", beat_ok.stderr);
    let seen = jobs(&mut with_store());
    assert_eq!(seen["status"], "healthy", "{seen}");
    // The standalone `state` reads what the application published.
    let read = run(
        &mut standalone(),
        &[
            "state",
            "--store",
            &url,
            "--service",
            "cli-example",
            "-g",
            "db",
            "--format",
            "json",
        ],
    );
    let view: serde_json::Value = serde_json::from_str(&read.stdout).expect("JSON");
    assert!(
        view["services"]["cli-example"]["database"]["db"].is_array(),
        "{view}"
    );

    // The store away: exit 2, one line saying so.
    drop(server);
    let away = run(&mut with_store(), &["healthcheck", "state"]);
    assert_eq!(away.code, 2, "{}{}", away.stdout, away.stderr);
    assert_eq!(away.stderr.lines().count(), 1, "{}", away.stderr);
    let standalone_away = run(&mut standalone(), &["state", "--store", &url]);
    assert_eq!(standalone_away.code, 2, "{}", standalone_away.stderr);
}

#[test]
fn probe_against_a_real_server_healthy_failing_slow_and_absent() {
    let server = HttpServer::start();
    let url = |path: &str| match path {
        "/fail" => server.url("/status/503"),
        "/slow" => server.url("/delay/3000"),
        other => server.url(other),
    };

    let ok = run(&mut standalone(), &["probe", &url("/ok")]);
    assert_eq!(
        (ok.code, ok.stdout.as_str(), ok.stderr.as_str()),
        (0, "", "")
    );
    let verbose = run(&mut standalone(), &["probe", &url("/ok"), "--verbose"]);
    assert_eq!(verbose.code, 0);
    assert!(verbose.stdout.starts_with("200 in "), "{}", verbose.stdout);

    let failing = run(&mut standalone(), &["probe", &url("/fail")]);
    assert_eq!(
        (
            failing.code,
            failing.stdout.as_str(),
            failing.stderr.as_str()
        ),
        (1, "", "")
    );
    let failing_verbose = run(&mut standalone(), &["probe", &url("/fail"), "-v"]);
    assert!(
        failing_verbose.stderr.contains("503"),
        "{}",
        failing_verbose.stderr
    );
    let expected_503 = run(
        &mut standalone(),
        &["probe", &url("/fail"), "--expect", "503"],
    );
    assert_eq!(expected_503.code, 0);

    let started = Instant::now();
    let slow = run(
        &mut standalone(),
        &["probe", &url("/slow"), "--timeout", "300ms", "-v"],
    );
    assert_eq!(slow.code, 1);
    assert!(
        slow.stderr.contains("no answer within 300ms"),
        "{}",
        slow.stderr
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );

    let port = support::servers::free_port();
    let absent = run(
        &mut standalone(),
        &["probe", &format!("http://127.0.0.1:{port}/readyz"), "-v"],
    );
    assert_eq!(absent.code, 1);
    assert!(
        absent.stderr.contains("cannot connect"),
        "{}",
        absent.stderr
    );

    for (args, says) in [
        (&["probe", "not a url"][..], "not a URL"),
        (&["probe", "https://127.0.0.1/"], "plain HTTP"),
        (
            &["probe", "http://user:s3cret@127.0.0.1/"],
            "sends no credentials",
        ),
        (
            &["probe", "http://127.0.0.1/", "--timeout", "soon"],
            "not a duration",
        ),
        (
            &["probe", "http://127.0.0.1/", "--expect", "700"],
            "not an HTTP status",
        ),
    ] {
        let ran = run(&mut standalone(), args);
        assert_eq!(ran.code, 3, "{args:?}");
        assert!(ran.stderr.contains(says), "{args:?}: {}", ran.stderr);
    }
    drop(server);
}

#[test]
fn gen_and_completions_print_what_their_formats_parse() {
    let k8s = run(&mut app(), &["healthcheck", "gen", "k8s", "--port", "9000"]);
    assert_eq!(k8s.code, 0, "{}", k8s.stderr);
    assert!(k8s.stdout.contains("readinessProbe"), "{}", k8s.stdout);
    assert!(k8s.stdout.contains("/readyz"), "{}", k8s.stdout);
    let monitor = run(&mut app(), &["healthcheck", "gen", "datadog-monitor"]);
    let monitor: serde_json::Value = serde_json::from_str(&monitor.stdout).expect("JSON");
    assert!(
        monitor["query"]
            .as_str()
            .expect("a query")
            .contains("healthcheck.check"),
        "{monitor}"
    );
    let monrun = run(&mut app(), &["healthcheck", "gen", "monrun", "-g", "db"]);
    assert_eq!(monrun.code, 0, "{}", monrun.stderr);
    assert!(
        monrun.stdout.starts_with("[cli-example-db]\n"),
        "{}",
        monrun.stdout
    );
    assert!(
        monrun.stdout.contains("execution_interval=60"),
        "{}",
        monrun.stdout
    );
    assert!(
        monrun
            .stdout
            .contains("healthcheck check -g db --format monrun"),
        "{}",
        monrun.stdout
    );
    let unknown = run(
        &mut app(),
        &["healthcheck", "gen", "monrun", "-g", "nosuch"],
    );
    assert_eq!(unknown.code, 3, "{}", unknown.stdout);
    assert_eq!(unknown.stderr.lines().count(), 1, "{}", unknown.stderr);
    let cron = run(&mut app(), &["healthcheck", "gen", "cron"]);
    assert_eq!(cron.code, 0, "{}", cron.stderr);
    assert!(cron.stdout.contains("healthcheck check"), "{}", cron.stdout);
    let docker = run(
        &mut standalone(),
        &["gen", "docker", "--port", "8080", "--timeout", "5s"],
    );
    // The probe gives up when Docker does.
    assert!(
        docker.stdout.contains(
            r#"CMD ["healthcheck","probe","http://127.0.0.1:8080/readyz","--timeout","5s"]"#
        ),
        "{}",
        docker.stdout
    );
    let app_completions = run(&mut app(), &["healthcheck", "completions", "bash"]);
    assert!(
        app_completions.stdout.contains("_cli"),
        "{}",
        app_completions.stdout
    );
    assert!(
        docker.stdout.starts_with("HEALTHCHECK "),
        "{}",
        docker.stdout
    );
    let no_app = run(&mut standalone(), &["gen", "cron"]);
    assert_eq!(no_app.code, 3, "{}", no_app.stdout);

    let completions = run(&mut standalone(), &["completions", "bash"]);
    assert_eq!(completions.code, 0);
    assert!(
        completions.stdout.contains("probe"),
        "{}",
        completions.stdout
    );
    let version = run(&mut standalone(), &["--version"]);
    assert_eq!(version.code, 0);
    assert!(
        version.stdout.starts_with("healthcheck "),
        "{}",
        version.stdout
    );
}

#[test]
fn watch_prints_one_line_per_registry_event() {
    use std::io::{BufRead, BufReader};

    use healthcheck::registry::{Instance, InstanceStatus, Registry};

    let server = support::servers::etcd::start();
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let registry = Registry::etcd(server.addr.to_string())
        .ttl(Duration::from_secs(2))
        .build()
        .expect("a registry");
    let health = healthcheck::HealthChecks::builder()
        .without_registered_checks()
        .service("api")
        .instance("i-watched")
        .host("web-1")
        .build()
        .expect("checks");
    let registration = registry.register(Instance::of(&health));
    assert!(
        runtime.block_on(registration.wait_for(Some(InstanceStatus::Up), Duration::from_secs(10)))
    );

    let mut child = standalone()
        .args([
            "watch",
            "--registry",
            &format!("etcd://{}", server.addr),
            "--type",
            "api",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("the watch starts");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let first = lines.next().expect("a line").expect("UTF-8");
    assert_eq!(first, "UP i-watched api web-1");
    health.begin_shutdown();
    let second = lines.next().expect("a line").expect("UTF-8");
    assert_eq!(second, "DOWN i-watched api web-1 shutting down");
    runtime
        .block_on(registration.deregister())
        .expect("deregistered");
    let third = lines.next().expect("a line").expect("UTF-8");
    assert_eq!(third, "DOWN i-watched api web-1 deregistered");
    let _ = child.kill();
    let _ = child.wait();

    let bad = run(&mut standalone(), &["watch", "--registry", "redis://x"]);
    assert_eq!(bad.code, 3, "{}", bad.stderr);
    assert!(bad.stderr.contains("etcd"), "{}", bad.stderr);
}
