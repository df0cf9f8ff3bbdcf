//! The memory checker: available memory against degraded and unhealthy levels, within the
//! memory limit of the process's cgroup (a container's limit) when there is one.
//!
//! Everything is read from text files: `/proc/meminfo`, `/proc/self/cgroup`,
//! `/proc/self/mountinfo` and the cgroup's `memory.*` files. The parsing is in pure functions
//! over that text; [`read`] puts them together.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use crate::check::Check;
use crate::checks::threshold::{
    IntoThreshold, Levels, Threshold, human_bytes, human_percent, percent_of,
};
use crate::checks::{Common, common_settings};
use crate::component::Component;

/// A memory check, made by [`memory`]: how much memory the process can still get, as a share
/// of what it may use at most, read on the blocking thread pool at each run.
///
/// On Linux the figures come from `/proc/meminfo` (`MemAvailable`, `MemTotal`) and, when the
/// process's cgroup — a container's — has a memory limit, from the cgroup too:
///
/// - cgroup v2: `memory.max`, `memory.current` and `inactive_file` of `memory.stat`;
/// - cgroup v1: `memory.limit_in_bytes`, `memory.usage_in_bytes` and `total_inactive_file` of
///   `memory.stat`.
///
/// The cgroup's *working set* is its usage less its inactive file cache (which the kernel
/// reclaims before it kills anything), as the kubelet counts it for evictions. Then
///
/// - `total_bytes` = the smaller of `MemTotal` and the cgroup's limit,
/// - `available_bytes` = the smaller of `MemAvailable` and the limit less the working set.
///
/// Limits of enclosing cgroups count too (a pod's limit around its containers'): the tightest
/// one wins. The cgroup is found through `/proc/self/mountinfo`, so it is right inside a
/// container with or without a cgroup namespace.
///
/// The check is **unhealthy** when available memory is below
/// [`unhealthy_below`](Memory::unhealthy_below) (default 5 % of the total), **degraded** below
/// [`degraded_below`](Memory::degraded_below) (default 10 %), and **healthy** otherwise, with
/// the message `"1.2 GiB available of the 2.0 GiB cgroup v2 limit (60.0 %)"` (or
/// `"21.3 GiB available of 23.5 GiB (90.7 %)"` without a limit). Files that cannot be read or
/// parsed make it unhealthy, naming the file.
///
/// Fields: `available_bytes`, `total_bytes`, `available_percent`, `source` (`"cgroup v2"`,
/// `"cgroup v1"` when the cgroup's limit is below the host's memory, else `"host"`) and
/// `cgroup_limit_bytes` when the cgroup has a limit.
///
/// Linux only: on other targets the check fails to build, "not supported on this platform".
///
/// # Example
/// ```
/// use healthcheck::{HealthChecks, checks};
///
/// let health = HealthChecks::builder()
///     .check(checks::memory("memory").degraded_below("20%").unhealthy_below("256MiB"))
///     .build()?;
/// # Ok::<(), healthcheck::Error>(())
/// ```
#[must_use = "a checker does nothing until it is given to HealthChecksBuilder::check"]
pub struct Memory {
    common: Common,
    levels: Levels,
}

common_settings!(Memory);

impl fmt::Debug for Memory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Memory")
            .field("name", &self.common.name())
            .field("degraded_below", &self.levels.degraded)
            .field("unhealthy_below", &self.levels.unhealthy)
            .finish_non_exhaustive()
    }
}

/// A check named `name` of the memory available to this process. See [`Memory`].
///
/// On a target other than Linux,
/// [`HealthChecksBuilder::build`](crate::HealthChecksBuilder::build) fails with
/// [`Error::InvalidCheck`](crate::Error::InvalidCheck).
#[track_caller]
pub fn memory(name: impl Into<String>) -> Memory {
    let mut common = Common::new(name);
    if cfg!(not(target_os = "linux")) {
        common.invalid("the memory checker is not supported on this platform (Linux only)");
    }
    Memory {
        common,
        levels: Levels::defaults(Threshold::percent(10.0), Threshold::percent(5.0)),
    }
}

impl Memory {
    /// Degraded when available memory is below `threshold`: bytes (`"512MiB"`,
    /// [`Threshold::mib`]) or a percentage of the total (`"10%"`, the default). `"0%"` turns it
    /// off.
    ///
    /// A threshold that does not parse, or a percentage outside 0..=100, makes the check fail
    /// to build.
    pub fn degraded_below(mut self, threshold: impl IntoThreshold) -> Self {
        if let Err(e) = self.levels.set_degraded("degraded_below", threshold) {
            self.common.invalid(e);
        }
        self
    }

    /// Unhealthy when available memory is below `threshold` (default `"5%"`). It must not be
    /// above the degraded level when both are of a kind, or the check fails to build.
    pub fn unhealthy_below(mut self, threshold: impl IntoThreshold) -> Self {
        if let Err(e) = self.levels.set_unhealthy("unhealthy_below", threshold) {
            self.common.invalid(e);
        }
        self
    }
}

impl From<Memory> for Check {
    fn from(memory: Memory) -> Check {
        let Memory { mut common, levels } = memory;
        if let Err(e) = levels.check_order(("degraded_below", "unhealthy_below"), true) {
            common.invalid(e);
        }
        let sources = Sources::system();
        common.into_blocking_check(move || match read(&sources) {
            Ok(snapshot) => judge(&snapshot, &levels),
            Err(e) => Component::unhealthy(e),
        })
    }
}

/// Where the files are: `/proc` and `/`, or a fixture tree in tests.
#[derive(Clone, Debug)]
pub(crate) struct Sources {
    /// The `/proc` directory.
    pub(crate) proc: PathBuf,
    /// The directory the mount points of `mountinfo` are under (`/`).
    pub(crate) root: PathBuf,
}

impl Sources {
    pub(crate) fn system() -> Self {
        Self {
            proc: PathBuf::from("/proc"),
            root: PathBuf::from("/"),
        }
    }
}

/// The memory figures of one run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Snapshot {
    pub(crate) available: u64,
    pub(crate) total: u64,
    pub(crate) cgroup_limit: Option<u64>,
    pub(crate) source: &'static str,
}

/// The component for `snapshot` against the levels.
pub(crate) fn judge(snapshot: &Snapshot, levels: &Levels) -> Component {
    let percent = percent_of(snapshot.available, snapshot.total);
    let of = if snapshot.source == HOST {
        human_bytes(snapshot.total)
    } else {
        format!(
            "the {} {} limit",
            human_bytes(snapshot.total),
            snapshot.source
        )
    };
    let (status, level) = levels.status_of(snapshot.available, snapshot.total);
    let message = match level {
        None => format!(
            "{} available of {of} ({})",
            human_bytes(snapshot.available),
            human_percent(percent)
        ),
        Some(level) => format!(
            "available memory {} of {of} ({}) is below the {} level of {}",
            human_bytes(snapshot.available),
            human_percent(percent),
            status.as_str(),
            level.describe(true)
        ),
    };
    let mut component = Component::with_status(status)
        .message(message)
        .field("available_bytes", snapshot.available)
        .field("total_bytes", snapshot.total)
        .field("available_percent", percent)
        .field("source", snapshot.source);
    if let Some(limit) = snapshot.cgroup_limit {
        component.insert("cgroup_limit_bytes", limit);
    }
    component
}

const HOST: &str = "host";

/// A cgroup hierarchy version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Version {
    V1,
    V2,
}

impl Version {
    fn name(self) -> &'static str {
        match self {
            Version::V1 => "cgroup v1",
            Version::V2 => "cgroup v2",
        }
    }

    /// The limit, usage and stat files, and the key of the inactive file cache in the stat.
    fn files(self) -> (&'static str, &'static str, &'static str, &'static str) {
        match self {
            Version::V1 => (
                "memory.limit_in_bytes",
                "memory.usage_in_bytes",
                "memory.stat",
                "total_inactive_file",
            ),
            Version::V2 => (
                "memory.max",
                "memory.current",
                "memory.stat",
                "inactive_file",
            ),
        }
    }
}

/// `MemTotal` and `MemAvailable` of `/proc/meminfo`, in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct MemInfo {
    pub(crate) total: u64,
    pub(crate) available: u64,
}

/// Parses `/proc/meminfo`: lines such as `MemTotal:       24683584 kB`.
pub(crate) fn parse_meminfo(text: &str) -> Result<MemInfo, String> {
    let mut total = None;
    let mut available = None;
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let slot = match key.trim() {
            "MemTotal" => &mut total,
            "MemAvailable" => &mut available,
            _ => continue,
        };
        let value = value.trim();
        let (number, scale) = match value.strip_suffix("kB") {
            Some(number) => (number.trim(), 1024),
            None => (value, 1),
        };
        let n: u64 = number
            .parse()
            .map_err(|_| format!("{key}: expected a number of kB, found {value:?}"))?;
        *slot = Some(n.saturating_mul(scale));
    }
    match (total, available) {
        (Some(total), Some(available)) => Ok(MemInfo { total, available }),
        (None, _) => Err("no MemTotal line".to_owned()),
        (_, None) => Err("no MemAvailable line (Linux 3.14 or later has it)".to_owned()),
    }
}

/// The process's cgroups from `/proc/self/cgroup`: the v2 path (`0::/path`) and the path in
/// the v1 hierarchy that has the memory controller (`4:memory:/path`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct ProcCgroup {
    pub(crate) v2: Option<String>,
    pub(crate) v1_memory: Option<String>,
}

/// Parses `/proc/self/cgroup`: lines `hierarchy-id:controllers:path`.
pub(crate) fn parse_proc_cgroup(text: &str) -> Result<ProcCgroup, String> {
    let mut cgroup = ProcCgroup::default();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let mut parts = line.splitn(3, ':');
        let (Some(id), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(format!("expected `id:controllers:path`, found {line:?}"));
        };
        if id == "0" && controllers.is_empty() {
            cgroup.v2 = Some(path.to_owned());
        } else if controllers.split(',').any(|c| c == "memory") {
            cgroup.v1_memory = Some(path.to_owned());
        }
    }
    Ok(cgroup)
}

/// A cgroup filesystem mounted: a v2 one, or a v1 one with the memory controller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CgroupMount {
    pub(crate) version: Version,
    /// The cgroup the mount shows at its mount point (`/` unless bind-mounted or namespaced).
    pub(crate) root: String,
    pub(crate) mount_point: PathBuf,
}

/// The cgroup mounts of `/proc/self/mountinfo`: `id parent dev root mount-point options
/// [optional...] - fstype source super-options`. Lines that do not have that shape are skipped.
pub(crate) fn parse_mountinfo(text: &str) -> Vec<CgroupMount> {
    let mut mounts = Vec::new();
    for line in text.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let mut left = left.split_whitespace().skip(3);
        let (Some(root), Some(mount_point)) = (left.next(), left.next()) else {
            continue;
        };
        let mut right = right.split_whitespace();
        let fstype = right.next().unwrap_or("");
        let options = right.nth(1).unwrap_or("");
        let version = match fstype {
            "cgroup2" => Version::V2,
            "cgroup" if options.split(',').any(|o| o == "memory") => Version::V1,
            _ => continue,
        };
        mounts.push(CgroupMount {
            version,
            root: unescape(root),
            mount_point: PathBuf::from(unescape(mount_point)),
        });
    }
    mounts
}

/// Undoes mountinfo's octal escapes (`\040` for a space).
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 4 <= bytes.len() {
            let digits = &bytes[i + 1..i + 4];
            if digits.iter().all(|d| (b'0'..=b'7').contains(d)) {
                let value = digits
                    .iter()
                    .fold(0u32, |value, d| value * 8 + u32::from(d - b'0'));
                if let Ok(byte) = u8::try_from(value) {
                    out.push(byte);
                    i += 4;
                    continue;
                }
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The directory of cgroup `path` under `mount`, relative to its mount point: `None` when the
/// cgroup is not under what the mount shows.
pub(crate) fn relative_to_mount<'a>(mount: &CgroupMount, path: &'a str) -> Option<&'a str> {
    let root = mount.root.trim_end_matches('/');
    let rest = path.strip_prefix(root)?;
    if !(rest.is_empty() || rest.starts_with('/')) {
        return None;
    }
    Some(rest.trim_start_matches('/'))
}

/// Parses a limit file: `max` (v2) or a byte count; v1's "unlimited", a count near
/// `i64::MAX`, is no limit either.
pub(crate) fn parse_limit(text: &str) -> Result<Option<u64>, String> {
    let text = text.trim();
    if text == "max" {
        return Ok(None);
    }
    let n = parse_bytes(text)?;
    Ok((n < 1 << 62).then_some(n))
}

/// Parses a file holding one byte count.
pub(crate) fn parse_bytes(text: &str) -> Result<u64, String> {
    let text = text.trim();
    text.parse()
        .map_err(|_| format!("expected a number of bytes, found {:?}", truncate(text)))
}

/// The value of `key` in a `memory.stat` file (`key value` lines).
pub(crate) fn stat_value(text: &str, key: &str) -> Result<u64, String> {
    for line in text.lines() {
        let mut parts = line.split_whitespace();
        if parts.next() == Some(key) {
            let value = parts.next().unwrap_or("");
            return value
                .parse()
                .map_err(|_| format!("{key}: expected a number, found {:?}", truncate(value)));
        }
    }
    Err(format!("no {key} line"))
}

fn truncate(text: &str) -> &str {
    match text.char_indices().nth(40) {
        Some((i, _)) => &text[..i],
        None => text,
    }
}

/// One cgroup with a memory limit: the limit, its usage, and its inactive file cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Limited {
    pub(crate) limit: u64,
    pub(crate) usage: u64,
    pub(crate) inactive_file: u64,
}

/// The figures from the host's and the limited cgroups' (of `version`).
pub(crate) fn combine(host: MemInfo, version: Version, limited: &[Limited]) -> Snapshot {
    let limit = limited.iter().map(|l| l.limit).min();
    let cgroup_available = limited
        .iter()
        .map(|l| {
            l.limit
                .saturating_sub(l.usage.saturating_sub(l.inactive_file))
        })
        .min();
    let (total, source) = match limit {
        Some(limit) if limit < host.total => (limit, version.name()),
        _ => (host.total, HOST),
    };
    let available = host
        .available
        .min(cgroup_available.unwrap_or(u64::MAX))
        .min(total);
    Snapshot {
        available,
        total,
        cgroup_limit: limit,
        source,
    }
}

/// Reads a file, `None` when it does not exist.
fn read_optional(path: &Path) -> Result<Option<String>, String> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

fn read_required(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// Reads the figures of this process from `sources`, or says which file failed and why.
pub(crate) fn read(sources: &Sources) -> Result<Snapshot, String> {
    let meminfo_path = sources.proc.join("meminfo");
    let host = parse_meminfo(&read_required(&meminfo_path)?)
        .map_err(|e| format!("cannot parse {}: {e}", meminfo_path.display()))?;
    let Some((version, dir, top)) = cgroup_dir(sources)? else {
        return Ok(combine(host, Version::V2, &[]));
    };
    let (limit_file, usage_file, stat_file, inactive_key) = version.files();
    let mut limited = Vec::new();
    // The cgroup and each enclosing one up to the mount point.
    let mut level = Some(dir.as_path());
    while let Some(current) = level {
        let limit_path = current.join(limit_file);
        if let Some(text) = read_optional(&limit_path)? {
            let limit = parse_limit(&text)
                .map_err(|e| format!("cannot parse {}: {e}", limit_path.display()))?;
            if let Some(limit) = limit {
                let usage_path = current.join(usage_file);
                let usage = parse_bytes(&read_required(&usage_path)?)
                    .map_err(|e| format!("cannot parse {}: {e}", usage_path.display()))?;
                let stat_path = current.join(stat_file);
                let inactive_file = stat_value(&read_required(&stat_path)?, inactive_key)
                    .map_err(|e| format!("cannot parse {}: {e}", stat_path.display()))?;
                limited.push(Limited {
                    limit,
                    usage,
                    inactive_file,
                });
            }
        }
        if current == top {
            break;
        }
        level = current.parent();
    }
    Ok(combine(host, version, &limited))
}

/// The directory of this process's memory cgroup and the mount point above it, or `None` when
/// there is no cgroup with a memory controller to read.
fn cgroup_dir(sources: &Sources) -> Result<Option<(Version, PathBuf, PathBuf)>, String> {
    let cgroup_path = sources.proc.join("self/cgroup");
    let Some(text) = read_optional(&cgroup_path)? else {
        return Ok(None);
    };
    let cgroup = parse_proc_cgroup(&text)
        .map_err(|e| format!("cannot parse {}: {e}", cgroup_path.display()))?;
    let Some(mountinfo) = read_optional(&sources.proc.join("self/mountinfo"))? else {
        return Ok(None);
    };
    let mounts = parse_mountinfo(&mountinfo);
    // The memory controller is in one hierarchy only: v1's when the process has a v1 memory
    // cgroup (a hybrid host mounts both), else v2's.
    let wanted = [
        (Version::V1, cgroup.v1_memory.as_deref()),
        (Version::V2, cgroup.v2.as_deref()),
    ];
    for (version, path) in wanted {
        let Some(path) = path else { continue };
        for mount in mounts.iter().filter(|m| m.version == version) {
            if let Some(relative) = relative_to_mount(mount, path) {
                let top = sources.root.join(
                    mount
                        .mount_point
                        .strip_prefix("/")
                        .unwrap_or(&mount.mount_point),
                );
                let dir = if relative.is_empty() {
                    top.clone()
                } else {
                    top.join(relative)
                };
                return Ok(Some((version, dir, top)));
            }
        }
    }
    tracing::debug!("no mounted memory cgroup of this process: memory is the host's");
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::component::Status;

    const MEMINFO: &str = "MemTotal:       24683584 kB\nMemFree:         2094936 kB\n\
        MemAvailable:   24018572 kB\nBuffers:           62324 kB\nHugePages_Total:       0\n";

    const V2_CGROUP: &str = "0::/kubepods.slice/pod1/container2\n";
    const HYBRID_CGROUP: &str = "9:name=systemd:/\n4:memory:/docker/abc\n1:cpu,cpuacct:/\n0::/\n";
    const MOUNTINFO: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
35 31 0:32 /docker/abc /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate
";

    #[test]
    fn meminfo_parses_or_says_what_is_missing() {
        let info = parse_meminfo(MEMINFO).unwrap();
        assert_eq!(info.total, 24_683_584 * 1024);
        assert_eq!(info.available, 24_018_572 * 1024);
        let old = "MemTotal: 1000 kB\nMemFree: 10 kB\n";
        assert!(parse_meminfo(old).unwrap_err().contains("no MemAvailable"));
        assert!(parse_meminfo("").unwrap_err().contains("no MemTotal"));
        let garbage = "MemTotal: lots kB\nMemAvailable: 1 kB\n";
        assert!(
            parse_meminfo(garbage)
                .unwrap_err()
                .contains("MemTotal: expected a number")
        );
        assert!(parse_meminfo("\u{0}\u{1}binary\n:::\n").is_err());
    }

    #[test]
    fn proc_cgroup_gives_the_v2_and_v1_memory_paths() {
        assert_eq!(
            parse_proc_cgroup(V2_CGROUP).unwrap(),
            ProcCgroup {
                v2: Some("/kubepods.slice/pod1/container2".into()),
                v1_memory: None
            }
        );
        assert_eq!(
            parse_proc_cgroup(HYBRID_CGROUP).unwrap(),
            ProcCgroup {
                v2: Some("/".into()),
                v1_memory: Some("/docker/abc".into())
            }
        );
        assert!(
            parse_proc_cgroup("garbage\n")
                .unwrap_err()
                .contains("expected `id:controllers:path`")
        );
    }

    #[test]
    fn mountinfo_gives_cgroup_mounts_with_their_roots() {
        let mounts = parse_mountinfo(MOUNTINFO);
        assert_eq!(
            mounts,
            vec![
                CgroupMount {
                    version: Version::V1,
                    root: "/docker/abc".into(),
                    mount_point: "/sys/fs/cgroup/memory".into()
                },
                CgroupMount {
                    version: Version::V2,
                    root: "/".into(),
                    mount_point: "/sys/fs/cgroup/unified".into()
                },
            ]
        );
        let spaced = "1 2 0:1 / /mnt/my\\040cgroup rw - cgroup2 cgroup2 rw\n";
        assert_eq!(
            parse_mountinfo(spaced)[0].mount_point,
            PathBuf::from("/mnt/my cgroup")
        );
        assert!(parse_mountinfo("garbage\n\n1 2 - cgroup2\n").is_empty());
    }

    #[test]
    fn cgroup_paths_are_taken_relative_to_the_mount_root() {
        let mount = |root: &str| CgroupMount {
            version: Version::V2,
            root: root.into(),
            mount_point: "/sys/fs/cgroup".into(),
        };
        assert_eq!(relative_to_mount(&mount("/"), "/a/b"), Some("a/b"));
        assert_eq!(relative_to_mount(&mount("/"), "/"), Some(""));
        assert_eq!(relative_to_mount(&mount("/a"), "/a/b"), Some("b"));
        assert_eq!(relative_to_mount(&mount("/a"), "/a"), Some(""));
        assert_eq!(relative_to_mount(&mount("/a"), "/ab"), None);
        assert_eq!(relative_to_mount(&mount("/a"), "/c"), None);
    }

    #[test]
    fn limits_are_numbers_or_none() {
        assert_eq!(parse_limit("max\n"), Ok(None));
        assert_eq!(parse_limit("268435456\n"), Ok(Some(268_435_456)));
        assert_eq!(parse_limit("9223372036854771712\n"), Ok(None)); // v1 unlimited
        assert!(
            parse_limit("")
                .unwrap_err()
                .contains("expected a number of bytes")
        );
        assert!(parse_limit("-1").is_err());
        assert!(parse_bytes("lots").unwrap_err().contains("\"lots\""));
        let stat = "anon 100\nfile 200\ninactive_file 150\nactive_file 50\n";
        assert_eq!(stat_value(stat, "inactive_file"), Ok(150));
        assert_eq!(stat_value(stat, "file"), Ok(200));
        assert!(
            stat_value(stat, "total_inactive_file")
                .unwrap_err()
                .contains("no total_inactive_file")
        );
        assert!(stat_value("inactive_file x", "inactive_file").is_err());
    }

    #[test]
    fn the_tightest_of_host_and_cgroups_wins() {
        let host = MemInfo {
            total: 16 << 30,
            available: 12 << 30,
        };
        assert_eq!(
            combine(host, Version::V2, &[]),
            Snapshot {
                available: 12 << 30,
                total: 16 << 30,
                cgroup_limit: None,
                source: "host"
            }
        );
        // 1 GiB limit, 600 MiB used of which 100 MiB inactive file cache: 500 MiB working set.
        let container = Limited {
            limit: 1 << 30,
            usage: 600 << 20,
            inactive_file: 100 << 20,
        };
        assert_eq!(
            combine(host, Version::V2, &[container]),
            Snapshot {
                available: 524 << 20,
                total: 1 << 30,
                cgroup_limit: Some(1 << 30),
                source: "cgroup v2"
            }
        );
        // A pod limit around it, nearly used up by a sibling.
        let pod = Limited {
            limit: 2 << 30,
            usage: 1900 << 20,
            inactive_file: 0,
        };
        let both = combine(host, Version::V1, &[container, pod]);
        assert_eq!((both.total, both.available), (1 << 30, 148 << 20));
        assert_eq!(both.source, "cgroup v1");
        // A limit above the host's memory does not constrain: the host's figures.
        let loose = Limited {
            limit: 64 << 30,
            usage: 1 << 30,
            inactive_file: 0,
        };
        let loose = combine(host, Version::V2, &[loose]);
        assert_eq!((loose.total, loose.source), (16 << 30, "host"));
        assert_eq!(loose.cgroup_limit, Some(64 << 30));
        // Usage over the limit (it happens, briefly): nothing available, no underflow.
        let over = Limited {
            limit: 1 << 30,
            usage: 2 << 30,
            inactive_file: 0,
        };
        assert_eq!(combine(host, Version::V2, &[over]).available, 0);
    }

    #[test]
    fn messages_name_the_limit_and_the_level() {
        let levels = Levels::defaults(Threshold::percent(10.0), Threshold::percent(5.0));
        let snapshot = Snapshot {
            available: 600 << 20,
            total: 1 << 30,
            cgroup_limit: Some(1 << 30),
            source: "cgroup v2",
        };
        let c = judge(&snapshot, &levels);
        assert_eq!(c.status(), Status::Healthy);
        assert_eq!(
            c.status_message(),
            Some("600.0 MiB available of the 1.0 GiB cgroup v2 limit (58.6 %)")
        );
        assert_eq!(c.extra()["cgroup_limit_bytes"], 1u64 << 30);
        let low = Snapshot {
            available: 40 << 20,
            ..snapshot
        };
        let c = judge(&low, &levels);
        assert_eq!(c.status(), Status::Unhealthy);
        assert_eq!(
            c.status_message(),
            Some(
                "available memory 40.0 MiB of the 1.0 GiB cgroup v2 limit (3.9 %) is below the \
                 unhealthy level of 5 %"
            )
        );
    }

    /// A fixture tree: `proc/` and a root holding the cgroup mounts.
    struct Tree(PathBuf);

    impl Tree {
        fn new(name: &str) -> Self {
            let dir = std::env::temp_dir()
                .join(format!("healthcheck-memory-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            Tree(dir)
        }

        fn write(&self, path: &str, text: &str) -> &Self {
            let path = self.0.join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
            self
        }

        fn sources(&self) -> Sources {
            Sources {
                proc: self.0.join("proc"),
                root: self.0.clone(),
            }
        }
    }

    impl Drop for Tree {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    const V2_MOUNTINFO: &str = "41 31 0:38 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";

    #[test]
    fn a_v2_tree_reads_the_container_and_pod_limits() {
        let tree = Tree::new("v2");
        let pod = "sys/fs/cgroup/kubepods.slice/pod1";
        tree.write("proc/meminfo", MEMINFO)
            .write("proc/self/cgroup", V2_CGROUP)
            .write("proc/self/mountinfo", V2_MOUNTINFO)
            // The root cgroup has no memory.max.
            .write("sys/fs/cgroup/memory.stat", "inactive_file 1\n")
            .write("sys/fs/cgroup/kubepods.slice/memory.max", "max\n")
            .write(&format!("{pod}/memory.max"), "2147483648\n")
            .write(&format!("{pod}/memory.current"), "1073741824\n")
            .write(&format!("{pod}/memory.stat"), "anon 1\ninactive_file 0\n")
            .write(&format!("{pod}/container2/memory.max"), "536870912\n")
            .write(&format!("{pod}/container2/memory.current"), "314572800\n")
            .write(
                &format!("{pod}/container2/memory.stat"),
                "anon 200\ninactive_file 104857600\n",
            );
        let snapshot = read(&tree.sources()).unwrap();
        assert_eq!(
            snapshot,
            Snapshot {
                available: 312 << 20,
                total: 512 << 20,
                cgroup_limit: Some(512 << 20),
                source: "cgroup v2"
            }
        );
        // No limit anywhere: the host's figures.
        tree.write(&format!("{pod}/memory.max"), "max\n")
            .write(&format!("{pod}/container2/memory.max"), "max\n");
        let host = read(&tree.sources()).unwrap();
        assert_eq!(host.source, "host");
        assert_eq!(host.total, 24_683_584 * 1024);
        assert_eq!(host.cgroup_limit, None);
    }

    #[test]
    fn a_v1_namespaced_tree_reads_the_mount_point() {
        let tree = Tree::new("v1");
        tree.write("proc/meminfo", MEMINFO)
            .write("proc/self/cgroup", HYBRID_CGROUP)
            .write("proc/self/mountinfo", MOUNTINFO)
            .write("sys/fs/cgroup/memory/memory.limit_in_bytes", "1073741824\n")
            .write("sys/fs/cgroup/memory/memory.usage_in_bytes", "104857600\n")
            .write(
                "sys/fs/cgroup/memory/memory.stat",
                "inactive_file 1\ntotal_inactive_file 4194304\n",
            );
        let snapshot = read(&tree.sources()).unwrap();
        assert_eq!(snapshot.total, 1 << 30);
        assert_eq!(snapshot.available, (1 << 30) - (100 << 20) + (4 << 20));
        assert_eq!(snapshot.source, "cgroup v1");
    }

    #[test]
    fn missing_and_garbage_files_are_clear_errors_or_the_host() {
        let tree = Tree::new("bad");
        // No /proc/meminfo at all.
        let err = read(&tree.sources()).unwrap_err();
        assert!(
            err.contains("cannot read") && err.contains("meminfo"),
            "{err}"
        );
        // No cgroup files: the host's.
        tree.write("proc/meminfo", MEMINFO);
        assert_eq!(read(&tree.sources()).unwrap().source, "host");
        // A cgroup not under any mount: the host's.
        tree.write("proc/self/cgroup", V2_CGROUP).write(
            "proc/self/mountinfo",
            "1 2 0:1 /other /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n",
        );
        assert_eq!(read(&tree.sources()).unwrap().source, "host");
        // Garbage in a limit file.
        tree.write("proc/self/mountinfo", V2_MOUNTINFO).write(
            "sys/fs/cgroup/kubepods.slice/pod1/container2/memory.max",
            "not a number\n",
        );
        let err = read(&tree.sources()).unwrap_err();
        assert!(
            err.contains("container2/memory.max") && err.contains("expected a number of bytes"),
            "{err}"
        );
        // A limit without its usage file.
        tree.write(
            "sys/fs/cgroup/kubepods.slice/pod1/container2/memory.max",
            "1000000\n",
        );
        let err = read(&tree.sources()).unwrap_err();
        assert!(
            err.contains("cannot read") && err.contains("memory.current"),
            "{err}"
        );
        // A stat file without inactive_file.
        tree.write(
            "sys/fs/cgroup/kubepods.slice/pod1/container2/memory.current",
            "10\n",
        )
        .write(
            "sys/fs/cgroup/kubepods.slice/pod1/container2/memory.stat",
            "garbage\n",
        );
        let err = read(&tree.sources()).unwrap_err();
        assert!(err.contains("no inactive_file line"), "{err}");
        // Garbage in /proc/meminfo and /proc/self/cgroup.
        tree.write("proc/meminfo", "\u{0}garbage");
        assert!(read(&tree.sources()).unwrap_err().contains("cannot parse"));
        tree.write("proc/meminfo", MEMINFO)
            .write("proc/self/cgroup", "junk\n");
        let err = read(&tree.sources()).unwrap_err();
        assert!(
            err.contains("self/cgroup") && err.contains("expected"),
            "{err}"
        );
    }
}
