//! Rendered responses, kept for the cache's time to live.

use std::collections::HashMap;
use std::sync::{PoisonError, RwLock};
use std::time::Instant;

use bytes::Bytes;
use http::StatusCode;

/// Where a cached response is kept.
pub(crate) enum CacheKey {
    Slot(usize),
    Keyed(String),
}

#[derive(Clone)]
pub(crate) struct Cached {
    pub(crate) status: StatusCode,
    pub(crate) content_type: &'static str,
    pub(crate) body: Bytes,
    pub(crate) expires: Instant,
}

/// The responses: a slot per endpoint for requests without a query (no key to build or hash),
/// and a map bounded to 1024 entries for requests with one.
pub(crate) struct ResponseCache {
    slots: Box<[RwLock<Option<Cached>>]>,
    keyed: RwLock<HashMap<String, Cached>>,
}

impl ResponseCache {
    pub(crate) fn new(slots: usize) -> Self {
        Self {
            slots: (0..slots).map(|_| RwLock::new(None)).collect(),
            keyed: RwLock::new(HashMap::new()),
        }
    }

    pub(crate) fn get(&self, key: &CacheKey) -> Option<Cached> {
        let cached = match key {
            CacheKey::Slot(slot) => self.slots[*slot]
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
            CacheKey::Keyed(key) => self
                .keyed
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .get(key)
                .cloned(),
        };
        cached.filter(|c| c.expires > Instant::now())
    }

    pub(crate) fn put(&self, key: CacheKey, cached: Cached) {
        match key {
            CacheKey::Slot(slot) => {
                *self.slots[slot]
                    .write()
                    .unwrap_or_else(PoisonError::into_inner) = Some(cached);
            }
            CacheKey::Keyed(key) => {
                let mut responses = self.keyed.write().unwrap_or_else(PoisonError::into_inner);
                // Queries are the caller's to choose: keep the cache from growing without end.
                if responses.len() >= 1024 {
                    let now = Instant::now();
                    responses.retain(|_, c| c.expires > now);
                    if responses.len() >= 1024 {
                        responses.clear();
                    }
                }
                responses.insert(key, cached);
            }
        }
    }
}
