//! The disk checker: free space and free inodes of the filesystem holding a path, from
//! `statvfs(3)`, against degraded and unhealthy levels.

use std::fmt;
use std::path::PathBuf;

use crate::check::Check;
use crate::checks::threshold::{IntoThreshold, Levels, Threshold};
use crate::checks::{Common, common_settings, redact};

/// A disk check, made by [`disk`]: the free space and free inodes of the filesystem that holds
/// a path, read with `statvfs(3)` (through `rustix`) on the blocking thread pool.
///
/// Free space is what unprivileged processes may use (`f_bavail`, what `df` shows as
/// *Available*), as a share of the filesystem's size (`f_blocks`). The check is
///
/// - **unhealthy** when free space is below [`unhealthy_below`](Disk::unhealthy_below) (default
///   5 %) or free inodes below [`inodes_unhealthy_below`](Disk::inodes_unhealthy_below) (default
///   5 %);
/// - **degraded** when either is below its degraded level (default 10 % for both);
/// - **healthy** otherwise, with the message `"41.2 GiB free of 251.9 GiB (16.4 %)"`.
///
/// A degraded or unhealthy message names the level crossed:
/// `"free space 4.1 GiB of 251.9 GiB (1.6 %) is below the unhealthy level of 5 %"`.
///
/// A filesystem that reports no inodes at all (btrfs, some overlay and network filesystems
/// allocate them on demand) has its inode levels skipped, and no inode fields.
///
/// A path that does not exist (not mounted yet, say) is unhealthy at each run, saying so, not
/// an error at build: it may appear later.
///
/// Fields: `path`, `free_bytes`, `total_bytes`, `free_percent`, and when the filesystem counts
/// inodes, `free_inodes`, `total_inodes`, `free_inodes_percent`.
///
/// Unix only: on other targets the check fails to build, "not supported on this platform".
///
/// # Example
/// ```
/// use healthcheck::{HealthChecks, checks};
///
/// let health = HealthChecks::builder()
///     .check(
///         checks::disk("data volume", "/var/lib/app")
///             .degraded_below("20%")
///             .unhealthy_below("2GiB"),
///     )
///     .build()?;
/// # Ok::<(), healthcheck::Error>(())
/// ```
#[must_use = "a checker does nothing until it is given to HealthChecksBuilder::check"]
pub struct Disk {
    common: Common,
    path: PathBuf,
    space: Levels,
    inodes: Levels,
}

common_settings!(Disk);

impl fmt::Debug for Disk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Disk")
            .field("name", &self.common.name())
            .field("path", &redact(&self.path.to_string_lossy()))
            .field("degraded_below", &self.space.degraded)
            .field("unhealthy_below", &self.space.unhealthy)
            .field("inodes_degraded_below", &self.inodes.degraded)
            .field("inodes_unhealthy_below", &self.inodes.unhealthy)
            .finish_non_exhaustive()
    }
}

/// A check named `name` of the free space and inodes of the filesystem holding `path` (a file
/// or directory on it; a mount point is the usual choice). See [`Disk`] for the levels.
///
/// An empty path makes [`HealthChecksBuilder::build`](crate::HealthChecksBuilder::build) fail
/// with [`Error::InvalidCheck`](crate::Error::InvalidCheck), as does any target that is not
/// Unix.
#[track_caller]
pub fn disk(name: impl Into<String>, path: impl Into<PathBuf>) -> Disk {
    let mut common = Common::new(name);
    let path = path.into();
    if path.as_os_str().is_empty() {
        common.invalid("the disk path is empty");
    }
    if cfg!(not(unix)) {
        common.invalid("the disk checker is not supported on this platform (Unix only)");
    }
    Disk {
        common,
        path,
        space: Levels::defaults(Threshold::percent(10.0), Threshold::percent(5.0)),
        inodes: Levels::defaults(Threshold::percent(10.0), Threshold::percent(5.0)),
    }
}

impl Disk {
    /// Degraded when free space is below `threshold`: bytes (`"20GiB"`, [`Threshold::gib`]) or
    /// a percentage of the filesystem's size (`"10%"`, the default). `"0%"` turns it off.
    ///
    /// A threshold that does not parse, or a percentage outside 0..=100, makes the check fail
    /// to build.
    pub fn degraded_below(mut self, threshold: impl IntoThreshold) -> Self {
        if let Err(e) = self.space.set_degraded("degraded_below", threshold) {
            self.common.invalid(e);
        }
        self
    }

    /// Unhealthy when free space is below `threshold` (default `"5%"`). It must not be above
    /// the degraded level when both are of a kind (both bytes or both percentages), or the check
    /// fails to build.
    pub fn unhealthy_below(mut self, threshold: impl IntoThreshold) -> Self {
        if let Err(e) = self.space.set_unhealthy("unhealthy_below", threshold) {
            self.common.invalid(e);
        }
        self
    }

    /// Degraded when free inodes are below `threshold`: a count (`"100000"`,
    /// [`Threshold::count`]) or a percentage of all inodes (`"10%"`, the default).
    pub fn inodes_degraded_below(mut self, threshold: impl IntoThreshold) -> Self {
        if let Err(e) = self.inodes.set_degraded("inodes_degraded_below", threshold) {
            self.common.invalid(e);
        }
        self
    }

    /// Unhealthy when free inodes are below `threshold` (default `"5%"`); not above the
    /// degraded level.
    pub fn inodes_unhealthy_below(mut self, threshold: impl IntoThreshold) -> Self {
        if let Err(e) = self
            .inodes
            .set_unhealthy("inodes_unhealthy_below", threshold)
        {
            self.common.invalid(e);
        }
        self
    }
}

impl From<Disk> for Check {
    fn from(disk: Disk) -> Check {
        let Disk {
            mut common,
            path,
            space,
            inodes,
        } = disk;
        if let Err(e) = space.check_order(("degraded_below", "unhealthy_below"), true) {
            common.invalid(e);
        }
        if let Err(e) =
            inodes.check_order(("inodes_degraded_below", "inodes_unhealthy_below"), false)
        {
            common.invalid(e);
        }
        #[cfg(unix)]
        {
            let shown = redact(&path.to_string_lossy()).into_owned();
            common.into_blocking_check(move || probe::run(&path, &shown, &space, &inodes))
        }
        #[cfg(not(unix))]
        {
            let _ = (path, space, inodes);
            common.into_blocking_check(|| {
                crate::component::Component::unhealthy("not supported on this platform")
            })
        }
    }
}

/// What `statvfs` says of a filesystem, in bytes and inodes.
#[cfg(unix)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Usage {
    pub(crate) free_bytes: u64,
    pub(crate) total_bytes: u64,
    pub(crate) free_inodes: u64,
    pub(crate) total_inodes: u64,
}

#[cfg(unix)]
mod probe {
    use std::path::Path;

    use super::Usage;
    use crate::checks::threshold::{Levels, human_bytes, human_percent, percent_of};
    use crate::component::Component;

    pub(super) fn run(path: &Path, shown: &str, space: &Levels, inodes: &Levels) -> Component {
        match rustix::fs::statvfs(path) {
            Ok(stat) => {
                let frsize = if stat.f_frsize > 0 {
                    stat.f_frsize
                } else {
                    stat.f_bsize
                };
                let usage = Usage {
                    free_bytes: stat.f_bavail.saturating_mul(frsize),
                    total_bytes: stat.f_blocks.saturating_mul(frsize),
                    free_inodes: stat.f_favail,
                    total_inodes: stat.f_files,
                };
                judge(shown, usage, space, inodes)
            }
            Err(e) => Component::unhealthy(format!(
                "cannot read the filesystem of {shown}: {}",
                std::io::Error::from(e)
            ))
            .field("path", shown.to_owned()),
        }
    }

    /// The component for `usage` against the levels.
    pub(super) fn judge(shown: &str, usage: Usage, space: &Levels, inodes: &Levels) -> Component {
        let free_percent = percent_of(usage.free_bytes, usage.total_bytes);
        let summary = format!(
            "{} free of {} ({})",
            human_bytes(usage.free_bytes),
            human_bytes(usage.total_bytes),
            human_percent(free_percent)
        );
        let (space_status, space_level) = space.status_of(usage.free_bytes, usage.total_bytes);
        let mut status = space_status;
        let mut reasons = Vec::new();
        if let Some(level) = space_level {
            reasons.push(format!(
                "free space {} of {} ({}) is below the {} level of {}",
                human_bytes(usage.free_bytes),
                human_bytes(usage.total_bytes),
                human_percent(free_percent),
                space_status.as_str(),
                level.describe(true)
            ));
        }
        let counts_inodes = usage.total_inodes > 0;
        if counts_inodes {
            let (inode_status, inode_level) =
                inodes.status_of(usage.free_inodes, usage.total_inodes);
            if let Some(level) = inode_level {
                reasons.push(format!(
                    "free inodes {} of {} ({}) are below the {} level of {}",
                    usage.free_inodes,
                    usage.total_inodes,
                    human_percent(percent_of(usage.free_inodes, usage.total_inodes)),
                    inode_status.as_str(),
                    level.describe(false)
                ));
            }
            status = status.max(inode_status);
        }
        let message = if reasons.is_empty() {
            summary
        } else {
            reasons.join("; ")
        };
        let mut component = Component::with_status(status)
            .message(message)
            .field("path", shown.to_owned())
            .field("free_bytes", usage.free_bytes)
            .field("total_bytes", usage.total_bytes)
            .field("free_percent", free_percent);
        if counts_inodes {
            component.insert("free_inodes", usage.free_inodes);
            component.insert("total_inodes", usage.total_inodes);
            component.insert(
                "free_inodes_percent",
                percent_of(usage.free_inodes, usage.total_inodes),
            );
        }
        component
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::Usage;
    use super::probe::judge;
    use crate::checks::threshold::{Levels, Threshold};
    use crate::component::Status;

    fn defaults() -> Levels {
        Levels::defaults(Threshold::percent(10.0), Threshold::percent(5.0))
    }

    #[test]
    fn levels_name_what_crossed_them() {
        let gib = 1u64 << 30;
        let usage = Usage {
            free_bytes: 50 * gib,
            total_bytes: 100 * gib,
            free_inodes: 900,
            total_inodes: 1000,
        };
        let c = judge("/data", usage, &defaults(), &defaults());
        assert_eq!(c.status(), Status::Healthy);
        assert_eq!(
            c.status_message(),
            Some("50.0 GiB free of 100.0 GiB (50.0 %)")
        );
        assert_eq!(c.extra()["free_inodes"], 900);

        let low = Usage {
            free_bytes: 8 * gib,
            ..usage
        };
        let c = judge("/data", low, &defaults(), &defaults());
        assert_eq!(c.status(), Status::Degraded);
        assert_eq!(
            c.status_message(),
            Some("free space 8.0 GiB of 100.0 GiB (8.0 %) is below the degraded level of 10 %")
        );

        let both = Usage {
            free_bytes: 4 * gib,
            free_inodes: 80,
            ..usage
        };
        let c = judge("/data", both, &defaults(), &defaults());
        assert_eq!(c.status(), Status::Unhealthy);
        let message = c.status_message().unwrap();
        assert!(
            message.contains("below the unhealthy level of 5 %"),
            "{message}"
        );
        assert!(
            message.contains("free inodes 80 of 1000 (8.0 %) are below the degraded level of 10 %"),
            "{message}"
        );
    }

    #[test]
    fn a_filesystem_without_inode_counts_skips_inode_levels() {
        let usage = Usage {
            free_bytes: 50,
            total_bytes: 100,
            free_inodes: 0,
            total_inodes: 0,
        };
        let c = judge("/btrfs", usage, &defaults(), &defaults());
        assert_eq!(c.status(), Status::Healthy);
        assert!(!c.extra().contains_key("free_inodes"));
        assert!(!c.extra().contains_key("total_inodes"));
    }
}
