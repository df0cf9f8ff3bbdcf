//! `checks::disk`: a temporary directory's filesystem as `df` sees it, levels set around its
//! real free space and inodes, a path that is not there (yet), thresholds that do not parse.

use std::path::Path;
use std::process::Command;

use healthcheck::checks::{self, Threshold};
use healthcheck::{HealthChecks, Status};

use crate::{build_error, health_of, run_one};

/// What `df` says of the filesystem holding `path`: size and available bytes, inodes and free
/// inodes.
struct Df {
    size: u64,
    avail: u64,
    itotal: u64,
    iavail: u64,
}

fn df(path: &Path) -> Df {
    let output = Command::new("df")
        .args(["-B1", "--output=size,avail,itotal,iavail"])
        .arg(path)
        .output()
        .expect("df runs");
    assert!(output.status.success(), "df: {output:?}");
    let text = String::from_utf8(output.stdout).unwrap();
    let numbers: Vec<u64> = text
        .lines()
        .nth(1)
        .expect("a line of figures")
        .split_whitespace()
        .map(|n| n.parse().unwrap_or(0))
        .collect();
    Df {
        size: numbers[0],
        avail: numbers[1],
        itotal: numbers[2],
        iavail: numbers[3],
    }
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    crate::support::servers::temp_dir(name)
}

#[tokio::test]
async fn a_temp_dir_is_healthy_with_the_figures_df_shows() {
    let dir = temp_dir("disk-healthy");
    // Levels low enough for any disk this runs on to pass.
    let component = run_one(
        checks::disk("scratch", &dir)
            .degraded_below("1MiB")
            .unhealthy_below("0%")
            .inodes_degraded_below("10")
            .inodes_unhealthy_below("0"),
    )
    .await;
    let df = df(&dir);
    assert_eq!(component.status, Status::Healthy, "{component:?}");
    let extra = &component.extra;
    assert_eq!(extra["path"], dir.display().to_string());
    assert_eq!(extra["total_bytes"], df.size);
    // Free space moves while other processes write: within 256 MiB of df's reading.
    let free = extra["free_bytes"].as_u64().unwrap();
    assert!(
        free.abs_diff(df.avail) < 256 << 20,
        "{free} vs df {}",
        df.avail
    );
    let percent = extra["free_percent"].as_f64().unwrap();
    assert!((percent - free as f64 * 100.0 / df.size as f64).abs() < 1e-9);
    if df.itotal > 0 {
        assert_eq!(extra["total_inodes"], df.itotal);
        let free_inodes = extra["free_inodes"].as_u64().unwrap();
        assert!(
            free_inodes.abs_diff(df.iavail) < 10_000,
            "{free_inodes} vs df {}",
            df.iavail
        );
    } else {
        assert!(!extra.contains_key("total_inodes"), "{extra:?}");
    }
    let message = component.status_message.unwrap();
    let gib = |n: u64| format!("{:.1} GiB", n as f64 / (1u64 << 30) as f64);
    assert!(
        message.ends_with(&format!(" free of {} ({percent:.1} %)", gib(df.size))),
        "{message}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn less_free_space_than_a_level_is_degraded_or_unhealthy_naming_it() {
    let dir = temp_dir("disk-levels");
    let free = df(&dir).avail;
    // Levels at twice and three times the free space: crossed whatever others write meanwhile.
    let component = run_one(
        checks::disk("scratch", &dir)
            .degraded_below(Threshold::bytes(free.saturating_mul(2)))
            .unhealthy_below("0%"),
    )
    .await;
    assert_eq!(component.status, Status::Degraded, "{component:?}");
    let message = component.status_message.unwrap();
    assert!(message.starts_with("free space "), "{message}");
    assert!(
        message.contains("is below the degraded level of"),
        "{message}"
    );

    let component = run_one(
        checks::disk("scratch", &dir)
            .degraded_below(Threshold::bytes(free.saturating_mul(3)))
            .unhealthy_below(Threshold::bytes(free.saturating_mul(2))),
    )
    .await;
    assert_eq!(component.status, Status::Unhealthy, "{component:?}");
    let message = component.status_message.unwrap();
    assert!(
        message.contains("is below the unhealthy level of"),
        "{message}"
    );
    // 100 % is above any filesystem's free share (some of it holds at least this directory).
    // (With the unhealthy level off: the test must not depend on how full the machine is.)
    let component = run_one(
        checks::disk("scratch", &dir)
            .degraded_below("100%")
            .unhealthy_below("0%"),
    )
    .await;
    assert_eq!(component.status, Status::Degraded, "{component:?}");
    assert!(
        component
            .status_message
            .unwrap()
            .contains("below the degraded level of 100 %")
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn fewer_free_inodes_than_a_level_is_degraded_or_unhealthy_naming_it() {
    let dir = temp_dir("disk-inodes");
    let figures = df(&dir);
    if figures.itotal == 0 {
        // Said, not silently passed: this filesystem allocates inodes on demand.
        #[allow(clippy::print_stderr)]
        {
            eprintln!(
                "skipped: the filesystem of {} counts no inodes",
                dir.display()
            );
        }
        return;
    }
    let levels = checks::disk("scratch", &dir)
        .degraded_below("0%")
        .unhealthy_below("0%");
    let component = run_one(
        levels
            .inodes_degraded_below(Threshold::count(figures.iavail.saturating_mul(2)))
            .inodes_unhealthy_below("0"),
    )
    .await;
    assert_eq!(component.status, Status::Degraded, "{component:?}");
    let message = component.status_message.unwrap();
    assert!(message.starts_with("free inodes "), "{message}");
    assert!(
        message.contains(&format!(" of {} (", figures.itotal)),
        "{message}"
    );
    assert!(
        message.contains("are below the degraded level of"),
        "{message}"
    );

    let component = run_one(
        checks::disk("scratch", &dir)
            .inodes_degraded_below("100%")
            .inodes_unhealthy_below("100%"),
    )
    .await;
    assert_eq!(component.status, Status::Unhealthy, "{component:?}");
    assert!(
        component
            .status_message
            .unwrap()
            .contains("are below the unhealthy level of 100 %")
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_missing_path_is_unhealthy_until_it_appears() {
    let dir = temp_dir("disk-missing");
    let mount = dir.join("not-mounted-yet");
    let health = health_of([checks::disk("volume", &mount)
        .degraded_below("0%")
        .unhealthy_below("0%")
        .inodes_degraded_below("0%")
        .inodes_unhealthy_below("0%")
        .into()]);
    let report = health.run().await;
    let component = &report.components["volume"];
    assert_eq!(component.status, Status::Unhealthy);
    let message = component.status_message.as_deref().unwrap();
    assert!(
        message.starts_with(&format!(
            "cannot read the filesystem of {}",
            mount.display()
        )),
        "{message}"
    );
    assert!(message.contains("No such file or directory"), "{message}");
    assert_eq!(component.extra["path"], mount.display().to_string());

    std::fs::create_dir(&mount).unwrap();
    let report = health.run().await;
    assert_eq!(report.components["volume"].status, Status::Healthy);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn it_survives_the_runtime_that_first_ran_it() {
    let dir = temp_dir("disk-runtimes");
    let health: HealthChecks = health_of([checks::disk("scratch", &dir)
        .degraded_below("0%")
        .unhealthy_below("0%")
        .into()]);
    for _ in 0..2 {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let report = runtime.block_on(health.run());
        assert_eq!(report.components["scratch"].status, Status::Healthy);
        drop(runtime);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn malformed_or_inverted_thresholds_fail_the_build_naming_the_check() {
    for (check, says) in [
        (
            checks::disk("data", "/").degraded_below("150%"),
            "degraded_below: invalid threshold \"150%\": 150 is not a number in 0..=100",
        ),
        (
            checks::disk("data", "/").unhealthy_below("10XB"),
            "unhealthy_below: invalid threshold \"10XB\": unknown unit",
        ),
        (
            checks::disk("data", "/").unhealthy_below(Threshold::percent(f64::NAN)),
            "NaN is not a number in 0..=100",
        ),
        (
            checks::disk("data", "/").inodes_degraded_below("lots"),
            "inodes_degraded_below: invalid threshold \"lots\"",
        ),
        (
            checks::disk("data", "/")
                .degraded_below("1GiB")
                .unhealthy_below("2GiB"),
            "unhealthy_below 2.0 GiB is above degraded_below 1.0 GiB",
        ),
        (
            checks::disk("data", "/").degraded_below("3%"),
            "unhealthy_below 5 % (the default) is above degraded_below 3 %",
        ),
        (
            checks::disk("data", "/")
                .inodes_degraded_below("100")
                .inodes_unhealthy_below("200"),
            "inodes_unhealthy_below 200 is above inodes_degraded_below 100",
        ),
        (checks::disk("data", ""), "the disk path is empty"),
    ] {
        let message = build_error(check);
        assert!(message.contains("data"), "{message}");
        assert!(message.contains(says), "{message}");
    }
    // Mixed kinds are not compared; a zero level is off.
    for check in [
        checks::disk("data", "/")
            .degraded_below("20%")
            .unhealthy_below("1GiB"),
        checks::disk("data", "/").degraded_below("0%"),
    ] {
        health_of([check.into()]);
    }
}

#[test]
fn debug_shows_the_path_and_levels() {
    let debug = format!(
        "{:?}",
        checks::disk("data", "/var/lib").degraded_below("20GiB")
    );
    assert!(debug.contains("\"/var/lib\""), "{debug}");
    assert!(
        debug.contains("degraded_below: Absolute(21474836480)"),
        "{debug}"
    );
    assert!(debug.contains("unhealthy_below: Percent(5.0)"), "{debug}");
}
