//! The build an application runs: its name, version and commit, the compiler and target, the
//! profile, and the features of the SDK and of the application.

use std::collections::BTreeMap;

use serde::Serialize;

/// What the application was built from, served as JSON at `GET <base>/environ` by
/// [`HttpOptions::environ`](crate::http::HttpOptions::environ).
///
/// Made with [`environ!`](crate::environ), which reads the application's own crate name,
/// version and profile where it is expanded, and its commit from `GIT_COMMIT` at build time.
///
/// # Example
/// ```
/// let environ = healthcheck::environ!().feature("postgres").library("tokio", "1.48");
/// assert!(!environ.name.is_empty());
/// assert!(environ.rust_version.starts_with("rustc "));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Environ {
    /// The application's crate.
    pub name: String,
    /// Its version.
    pub version: String,
    /// The commit it was built from, if known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub git_commit: Option<String>,
    /// `debug` or `release` (whether debug assertions were on).
    pub profile: &'static str,
    /// The compiler that built it (`rustc 1.85.0 (...)`).
    pub rust_version: &'static str,
    /// The target it was built for (`x86_64-unknown-linux-gnu`).
    pub target: &'static str,
    /// The SDK's version.
    pub healthcheck_version: &'static str,
    /// The SDK's features that are on.
    pub healthcheck_features: Vec<&'static str>,
    /// The application's features, as it lists them.
    pub features: Vec<String>,
    /// Libraries and their versions, as the application lists them.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub libraries: BTreeMap<String, String>,
}

/// The SDK's features that are on.
fn sdk_features() -> Vec<&'static str> {
    let all: [(&'static str, bool); 23] = [
        ("actix-web", cfg!(feature = "actix-web")),
        ("axum", cfg!(feature = "axum")),
        ("cli", cfg!(feature = "cli")),
        ("disk", cfg!(feature = "disk")),
        ("dns", cfg!(feature = "dns")),
        ("dogstatsd", cfg!(feature = "dogstatsd")),
        ("etcd", cfg!(feature = "etcd")),
        ("events", cfg!(feature = "events")),
        ("http", cfg!(feature = "http")),
        ("memcached", cfg!(feature = "memcached")),
        ("memory", cfg!(feature = "memory")),
        ("postgres", cfg!(feature = "postgres")),
        ("prometheus", cfg!(feature = "prometheus")),
        ("redis", cfg!(feature = "redis")),
        ("registry", cfg!(feature = "registry")),
        ("registry-tls", cfg!(feature = "registry-tls")),
        ("server", cfg!(feature = "server")),
        ("sqlite", cfg!(feature = "sqlite")),
        ("status", cfg!(feature = "status")),
        ("tcp", cfg!(feature = "tcp")),
        ("tower", cfg!(feature = "tower")),
        ("workers", cfg!(feature = "workers")),
        ("default", cfg!(feature = "default")),
    ];
    all.into_iter()
        .filter(|(_, on)| *on)
        .map(|(name, _)| name)
        .collect()
}

impl Environ {
    /// The build of `name` at `version`; use [`environ!`](crate::environ) to read them (and the
    /// profile and commit) from the application's crate.
    #[must_use]
    pub fn new(name: impl Into<String>, version: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            version: version.into(),
            git_commit: None,
            profile: if cfg!(debug_assertions) {
                "debug"
            } else {
                "release"
            },
            rust_version: env!("HEALTHCHECK_BUILD_RUSTC"),
            target: env!("HEALTHCHECK_BUILD_TARGET"),
            healthcheck_version: env!("CARGO_PKG_VERSION"),
            healthcheck_features: sdk_features(),
            features: Vec::new(),
            libraries: BTreeMap::new(),
        }
    }

    /// The commit it was built from.
    #[must_use]
    pub fn git_commit(mut self, commit: Option<&str>) -> Self {
        self.git_commit = commit
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_owned);
        self
    }

    /// The profile: `debug` or `release` (what [`environ!`](crate::environ) reads).
    #[must_use]
    pub const fn profile(mut self, profile: &'static str) -> Self {
        self.profile = profile;
        self
    }

    /// One of the application's features.
    #[must_use]
    pub fn feature(mut self, feature: impl Into<String>) -> Self {
        self.features.push(feature.into());
        self
    }

    /// A library and its version.
    #[must_use]
    pub fn library(mut self, name: impl Into<String>, version: impl Into<String>) -> Self {
        self.libraries.insert(name.into(), version.into());
        self
    }

    /// The JSON served at `/environ`.
    #[must_use]
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// The [`Environ`] of the crate where it is expanded: its name, version and profile, and the
/// commit in `GIT_COMMIT` at build time (set it in CI, or from a build script).
#[macro_export]
macro_rules! environ {
    () => {
        $crate::status::Environ::new(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
            .profile(if cfg!(debug_assertions) {
                "debug"
            } else {
                "release"
            })
            .git_commit(option_env!("GIT_COMMIT"))
    };
}

#[cfg(test)]
mod tests {
    /// Every feature of the crate's manifest is in the list `/environ` reads, so that a new
    /// feature cannot go unreported.
    #[test]
    fn the_list_names_every_feature_of_the_manifest() {
        let manifest = include_str!("../../Cargo.toml");
        let table = manifest
            .split("\n[features]\n")
            .nth(1)
            .expect("a [features] table");
        let table = table.split("\n[").next().unwrap_or(table);
        let source = include_str!("environ.rs");
        for line in table.lines() {
            let Some((name, _)) = line.split_once(" = ") else {
                continue;
            };
            if line.starts_with('#') {
                continue;
            }
            let entry = format!("(\"{name}\", cfg!(feature = \"{name}\"))");
            assert!(source.contains(&entry), "`{name}` is not in sdk_features");
        }
    }
}
