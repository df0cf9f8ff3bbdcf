//! `checks::memory`: this process's memory against levels set around what is really available,
//! its figures against `/proc/meminfo`, and a child process run inside a real cgroup with a
//! memory limit (v2 when the host's cgroup v2 hierarchy has the memory controller, v1 when the
//! controller is in a v1 hierarchy), which must report the limit as its total.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use healthcheck::checks::{self, Threshold};
use healthcheck::{ComponentReport, HealthChecks, Status};

use crate::support::{CHILD, child_command};
use crate::{build_error, health_of, run_one};

/// `MemTotal` and `MemAvailable`, in bytes.
fn meminfo() -> (u64, u64) {
    let text = std::fs::read_to_string("/proc/meminfo").expect("/proc/meminfo");
    let field = |key: &str| -> u64 {
        let line = text
            .lines()
            .find(|l| l.starts_with(key))
            .unwrap_or_else(|| panic!("no {key}"));
        line.split_whitespace()
            .nth(1)
            .unwrap()
            .parse::<u64>()
            .unwrap()
            * 1024
    };
    (field("MemTotal:"), field("MemAvailable:"))
}

/// Levels no machine crosses.
fn lenient() -> checks::Memory {
    checks::memory("memory")
        .degraded_below("1B")
        .unhealthy_below("0%")
}

#[tokio::test]
async fn this_process_is_healthy_with_figures_from_meminfo() {
    let component = run_one(lenient()).await;
    assert_eq!(component.status, Status::Healthy, "{component:?}");
    let extra = &component.extra;
    let total = extra["total_bytes"].as_u64().unwrap();
    let available = extra["available_bytes"].as_u64().unwrap();
    let (mem_total, mem_available) = meminfo();
    assert!(available <= total, "{extra:?}");
    let percent = extra["available_percent"].as_f64().unwrap();
    assert!((percent - available as f64 * 100.0 / total as f64).abs() < 1e-9);
    match extra["source"].as_str().unwrap() {
        "host" => {
            assert_eq!(total, mem_total);
            // Other processes allocate meanwhile: within 5 % of the memory.
            assert!(
                available.abs_diff(mem_available) < mem_total / 20,
                "{available} vs MemAvailable {mem_available}"
            );
            let message = component.status_message.unwrap();
            assert!(message.contains(" available of "), "{message}");
            assert!(!message.contains("limit"), "{message}");
        }
        "cgroup v1" | "cgroup v2" => {
            assert_eq!(extra["cgroup_limit_bytes"], total);
            assert!(total < mem_total);
            assert!(available <= mem_available + mem_total / 20);
        }
        other => panic!("source {other}"),
    }
}

#[tokio::test]
async fn less_available_than_a_level_is_degraded_or_unhealthy_naming_it() {
    let (mem_total, _) = meminfo();
    // Above anything available: twice the host's memory, or 100 % of the total.
    let component = run_one(
        checks::memory("memory")
            .degraded_below(Threshold::bytes(mem_total * 2))
            .unhealthy_below("0%"),
    )
    .await;
    assert_eq!(component.status, Status::Degraded, "{component:?}");
    let message = component.status_message.unwrap();
    assert!(message.starts_with("available memory "), "{message}");
    assert!(
        message.contains("is below the degraded level of"),
        "{message}"
    );

    let component = run_one(
        checks::memory("memory")
            .degraded_below("100%")
            .unhealthy_below("100%"),
    )
    .await;
    assert_eq!(component.status, Status::Unhealthy, "{component:?}");
    let message = component.status_message.unwrap();
    assert!(
        message.ends_with("is below the unhealthy level of 100 %"),
        "{message}"
    );
    assert!(component.extra["available_bytes"].as_u64().unwrap() > 0);
}

#[test]
fn it_survives_the_runtime_that_first_ran_it() {
    let health: HealthChecks = health_of([lenient().into()]);
    for _ in 0..2 {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let report = runtime.block_on(health.run());
        assert_eq!(report.components["memory"].status, Status::Healthy);
        drop(runtime);
    }
}

#[test]
fn malformed_or_inverted_thresholds_fail_the_build_naming_the_check() {
    for (check, says) in [
        (
            checks::memory("mem").degraded_below("101%"),
            "degraded_below: invalid threshold \"101%\": 101 is not a number in 0..=100",
        ),
        (
            checks::memory("mem").unhealthy_below("5 parsecs"),
            "unhealthy_below: invalid threshold \"5 parsecs\": unknown unit",
        ),
        (
            checks::memory("mem").degraded_below(Threshold::percent(f64::INFINITY)),
            "inf is not a number in 0..=100",
        ),
        (
            checks::memory("mem")
                .degraded_below("256MiB")
                .unhealthy_below("1GiB"),
            "unhealthy_below 1.0 GiB is above degraded_below 256.0 MiB",
        ),
        (
            checks::memory("mem").unhealthy_below("20%"),
            "unhealthy_below 20 % is above degraded_below 10 % (the default)",
        ),
    ] {
        let message = build_error(check);
        assert!(message.contains("mem"), "{message}");
        assert!(message.contains(says), "{message}");
    }
}

// The cgroup tests: a child process of this binary, moved into a cgroup with a 256 MiB limit
// before it starts, runs `child_reports_the_limit`.

const LIMIT: u64 = 256 << 20;
const EXPECT_SOURCE: &str = "HEALTHCHECK_TEST_EXPECT_SOURCE";

/// The child's half: its checker reports the cgroup's limit as the total.
async fn child_reports_the_limit() {
    let source = std::env::var(EXPECT_SOURCE).expect("the expected source");
    let component: ComponentReport = run_one(lenient()).await;
    assert_eq!(component.status, Status::Healthy, "{component:?}");
    let extra = &component.extra;
    assert_eq!(extra["source"], source.as_str(), "{extra:?}");
    assert_eq!(extra["total_bytes"], LIMIT, "{extra:?}");
    assert_eq!(extra["cgroup_limit_bytes"], LIMIT, "{extra:?}");
    let available = extra["available_bytes"].as_u64().unwrap();
    assert!(available > 0 && available < LIMIT, "{extra:?}");
    let message = component.status_message.unwrap();
    assert!(
        message.contains(&format!("of the 256.0 MiB {source} limit")),
        "{message}"
    );
}

/// Runs test `test` of this binary in a child process that a shell first moves into the cgroup
/// of `procs` (its `cgroup.procs` file), then replaces with the test binary.
fn run_in_cgroup(test: &str, procs: &Path, source: &str) -> Output {
    let inner = child_command(test, &[(EXPECT_SOURCE, source)]);
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(r#"echo $$ > "$0" && exec "$@""#)
        .arg(procs)
        .arg(inner.get_program())
        .args(inner.get_args());
    for (name, value) in inner.get_envs() {
        match value {
            Some(value) => command.env(name, value),
            None => command.env_remove(name),
        };
    }
    command.output().expect("the child runs")
}

fn check_child(output: &Output) {
    assert!(
        output.status.success(),
        "the child in the cgroup failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    // The child ran the test (a wrong name would run none, and pass).
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("test result: ok. 1 passed"), "{stdout}");
}

#[allow(clippy::print_stderr)] // A skipped test says why, where the test runner shows it.
fn skip(test: &str, why: &str) {
    eprintln!("{test}: skipped: {why}");
}

/// A cgroup the test made, removed on drop (its processes have exited by then).
struct TestCgroup(PathBuf);

impl Drop for TestCgroup {
    fn drop(&mut self) {
        for _ in 0..50 {
            if std::fs::remove_dir(&self.0).is_ok() || !self.0.exists() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

/// The cgroup mounts of this process: (fstype, root, mount point, super options).
fn cgroup_mounts() -> Vec<(String, String, PathBuf, String)> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    text.lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let left: Vec<&str> = left.split_whitespace().collect();
            let right: Vec<&str> = right.split_whitespace().collect();
            let fstype = *right.first()?;
            (fstype == "cgroup" || fstype == "cgroup2").then(|| {
                (
                    fstype.to_owned(),
                    left[3].to_owned(),
                    PathBuf::from(left[4]),
                    right.get(2).copied().unwrap_or("").to_owned(),
                )
            })
        })
        .collect()
}

fn is_root() -> bool {
    // The owner of this process's /proc entry is its user.
    std::os::unix::fs::MetadataExt::uid(&std::fs::metadata("/proc/self").unwrap()) == 0
}

#[tokio::test]
async fn a_cgroup_v2_limit_is_the_total() {
    const TEST: &str = "memory::a_cgroup_v2_limit_is_the_total";
    if std::env::var_os(CHILD).is_some() {
        return child_reports_the_limit().await;
    }
    let Some((_, _, mount, _)) = cgroup_mounts().into_iter().find(|m| m.0 == "cgroup2") else {
        return skip(TEST, "no cgroup2 filesystem is mounted");
    };
    let controllers = std::fs::read_to_string(mount.join("cgroup.controllers")).unwrap_or_default();
    if !controllers.split_whitespace().any(|c| c == "memory") {
        return skip(
            TEST,
            &format!(
                "the cgroup v2 hierarchy at {} has no memory controller (it has {:?}): this \
                 host binds memory to a cgroup v1 hierarchy, see a_cgroup_v1_limit_is_the_total",
                mount.display(),
                controllers.trim()
            ),
        );
    }
    if !is_root() {
        return skip(TEST, "creating a cgroup needs root");
    }
    let subtree = mount.join("cgroup.subtree_control");
    let enabled = std::fs::read_to_string(&subtree).unwrap_or_default();
    if !enabled.split_whitespace().any(|c| c == "memory") {
        if let Err(e) = std::fs::write(&subtree, "+memory") {
            return skip(
                TEST,
                &format!(
                    "cannot enable the memory controller in {}: {e}",
                    subtree.display()
                ),
            );
        }
    }
    let dir = mount.join(format!("healthcheck-test-{}-v2", std::process::id()));
    if let Err(e) = std::fs::create_dir(&dir) {
        return skip(TEST, &format!("cannot create {}: {e}", dir.display()));
    }
    let cgroup = TestCgroup(dir);
    std::fs::write(cgroup.0.join("memory.max"), LIMIT.to_string()).expect("memory.max");
    let output = run_in_cgroup(TEST, &cgroup.0.join("cgroup.procs"), "cgroup v2");
    check_child(&output);
}

#[tokio::test]
async fn a_cgroup_v1_limit_is_the_total() {
    const TEST: &str = "memory::a_cgroup_v1_limit_is_the_total";
    if std::env::var_os(CHILD).is_some() {
        return child_reports_the_limit().await;
    }
    let Some((_, root, mount, _)) = cgroup_mounts()
        .into_iter()
        .find(|m| m.0 == "cgroup" && m.3.split(',').any(|o| o == "memory"))
    else {
        return skip(
            TEST,
            "no cgroup v1 hierarchy has the memory controller (a cgroup v2 host: see \
             a_cgroup_v2_limit_is_the_total)",
        );
    };
    if !is_root() {
        return skip(TEST, "creating a cgroup needs root");
    }
    // This process's cgroup in that hierarchy, under the mount's root.
    let own = std::fs::read_to_string("/proc/self/cgroup").expect("/proc/self/cgroup");
    let path = own
        .lines()
        .filter_map(|l| {
            let mut parts = l.splitn(3, ':').skip(1);
            parts.next().zip(parts.next())
        })
        .find(|(controllers, _)| controllers.split(',').any(|c| c == "memory"))
        .map(|(_, path)| path.to_owned())
        .expect("a v1 memory cgroup");
    let relative = path
        .strip_prefix(root.trim_end_matches('/'))
        .expect("the cgroup is under the mount's root")
        .trim_start_matches('/');
    let dir = mount
        .join(relative)
        .join(format!("healthcheck-test-{}-v1", std::process::id()));
    if let Err(e) = std::fs::create_dir(&dir) {
        return skip(TEST, &format!("cannot create {}: {e}", dir.display()));
    }
    let cgroup = TestCgroup(dir);
    std::fs::write(cgroup.0.join("memory.limit_in_bytes"), LIMIT.to_string())
        .expect("memory.limit_in_bytes");
    let output = run_in_cgroup(TEST, &cgroup.0.join("cgroup.procs"), "cgroup v1");
    check_child(&output);
}
