//! The latest result of each check, behind a small interface: [`ResultStore`], with the
//! in-memory [`MemoryStore`] as the default.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{PoisonError, RwLock};
use std::time::SystemTime;

use crate::report::ComponentReport;

/// A boxed future returned by a [`ResultStore`].
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One check's latest result and when it was taken.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredResult {
    /// The component, as the report shows it.
    pub component: ComponentReport,
    /// When the check ran (wall-clock time, so that other processes can judge its age).
    pub checked_at: SystemTime,
}

/// Keeps the latest result of each check, so that requests read results instead of running
/// checks, and (with a shared store) so that results taken in one process or on one host can be
/// read from another.
pub trait ResultStore: Send + Sync + fmt::Debug {
    /// The stored results of `checks`, in the same order (`None` for a check never stored).
    fn load<'a>(&'a self, checks: &'a [&'a str]) -> StoreFuture<'a, Vec<Option<StoredResult>>>;

    /// Stores the latest results.
    fn save<'a>(&'a self, results: Vec<(String, StoredResult)>) -> StoreFuture<'a, ()>;
}

/// The default store: a map in this process's memory.
#[derive(Debug, Default)]
pub struct MemoryStore {
    results: RwLock<HashMap<String, StoredResult>>,
}

impl MemoryStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }
}

impl ResultStore for MemoryStore {
    fn load<'a>(&'a self, checks: &'a [&'a str]) -> StoreFuture<'a, Vec<Option<StoredResult>>> {
        let results = self.results.read().unwrap_or_else(PoisonError::into_inner);
        let found = checks
            .iter()
            .map(|name| results.get(*name).cloned())
            .collect();
        Box::pin(std::future::ready(found))
    }

    fn save<'a>(&'a self, results: Vec<(String, StoredResult)>) -> StoreFuture<'a, ()> {
        let mut stored = self.results.write().unwrap_or_else(PoisonError::into_inner);
        stored.extend(results);
        Box::pin(std::future::ready(()))
    }
}
