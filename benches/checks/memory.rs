//! `checks::memory` over reading and parsing what it reads, written plainly: `/proc/meminfo`,
//! `/proc/self/cgroup`, `/proc/self/mountinfo`, and the limit files of the process's memory
//! cgroup and its parents (with the usage and `memory.stat` of any that is limited). Called
//! from async code on the blocking pool (`spawn_blocking`) as a user must, and inline.

use std::path::PathBuf;

use healthcheck::checks;

use crate::{Row, compare};

/// Available and total bytes, by hand.
fn raw() -> Option<(u64, u64)> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kb = |key: &str| -> Option<u64> {
        let line = meminfo.lines().find(|l| l.starts_with(key))?;
        Some(line.split_whitespace().nth(1)?.parse::<u64>().ok()? * 1024)
    };
    let (mut total, mut available) = (kb("MemTotal:")?, kb("MemAvailable:")?);
    let cgroups = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    let v1 = cgroups.lines().find_map(|l| {
        let mut parts = l.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        controllers
            .split(',')
            .any(|c| c == "memory")
            .then_some(path)
    });
    let v2 = cgroups.lines().find_map(|l| l.strip_prefix("0::"));
    let (path, v1_mount) = match v1 {
        Some(path) => (path, true),
        None => (v2?, false),
    };
    let (root, mount) = mountinfo.lines().find_map(|l| {
        let (left, right) = l.split_once(" - ")?;
        let mut right = right.split_whitespace();
        let fstype = right.next()?;
        let options = right.nth(1)?;
        let wanted = if v1_mount {
            fstype == "cgroup" && options.split(',').any(|o| o == "memory")
        } else {
            fstype == "cgroup2"
        };
        let mut left = left.split_whitespace().skip(3);
        wanted.then(|| (left.next(), left.next()))
    })?;
    let (root, mount) = (root?, PathBuf::from(mount?));
    let relative = path.strip_prefix(root.trim_end_matches('/'))?;
    let mut dir = mount.join(relative.trim_start_matches('/'));
    let (limit_file, usage_file, key) = if v1_mount {
        (
            "memory.limit_in_bytes",
            "memory.usage_in_bytes",
            "total_inactive_file",
        )
    } else {
        ("memory.max", "memory.current", "inactive_file")
    };
    loop {
        if let Ok(text) = std::fs::read_to_string(dir.join(limit_file)) {
            if let Ok(limit) = text.trim().parse::<u64>() {
                if limit < 1 << 62 {
                    let usage: u64 = std::fs::read_to_string(dir.join(usage_file))
                        .ok()?
                        .trim()
                        .parse()
                        .ok()?;
                    let stat = std::fs::read_to_string(dir.join("memory.stat")).ok()?;
                    let inactive: u64 = stat
                        .lines()
                        .find_map(|l| l.strip_prefix(key)?.trim().parse().ok())?;
                    total = total.min(limit);
                    available = available.min(limit.saturating_sub(usage.saturating_sub(inactive)));
                }
            }
        }
        if dir == mount || !dir.pop() {
            break;
        }
    }
    Some((available.min(total), total))
}

pub(crate) fn bench(runtime: &tokio::runtime::Runtime) -> Vec<Row> {
    let check = || {
        checks::memory("memory")
            .degraded_below("0%")
            .unhealthy_below("0%")
    };
    let blocking = || async {
        tokio::task::spawn_blocking(|| raw().is_some())
            .await
            .unwrap_or(false)
    };
    let inline = || {
        let ok = raw().is_some();
        async move { ok }
    };
    vec![
        compare(runtime, "memory (raw in spawn_blocking)", blocking, check()),
        compare(runtime, "memory (raw inline)", inline, check()),
    ]
}
