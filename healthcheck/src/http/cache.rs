//! Rendered responses, kept for the cache's time to live.

use std::collections::HashMap;
use std::sync::{PoisonError, RwLock};
use std::time::Instant;

use bytes::Bytes;
use http::StatusCode;

/// The most responses kept for requests with a query.
pub(crate) const MAX_KEYED_ENTRIES: usize = 256;

/// The most bytes (bodies and keys) kept for requests with a query: with a report of hundreds of
/// checks, a few dozen responses.
pub(crate) const MAX_KEYED_BYTES: usize = 4 << 20;

/// What an entry costs beyond its key and body: the map's slot, the `Cached` and the
/// allocations' headers, roughly.
const ENTRY_OVERHEAD: usize = 128;

/// Where a cached response is kept.
#[derive(Clone, Debug, PartialEq, Eq)]
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

/// The responses: a slot per endpoint for the canonical requests (no key to build or hash), and
/// a map for the others (queries that change the response), bounded by
/// [`MAX_KEYED_ENTRIES`] and [`MAX_KEYED_BYTES`]. Expired responses are dropped when they are
/// read and on every insert, not only when the map is full.
pub(crate) struct ResponseCache {
    slots: Box<[RwLock<Option<Cached>>]>,
    keyed: RwLock<Keyed>,
}

#[derive(Default)]
struct Keyed {
    responses: HashMap<String, Cached>,
    /// The bytes the responses take, by [`cost`].
    bytes: usize,
    /// When the first of the responses expires (`None` when there are none).
    next_expiry: Option<Instant>,
}

/// What an entry counts for against [`MAX_KEYED_BYTES`].
fn cost(key: &str, cached: &Cached) -> usize {
    key.len() + cached.body.len() + ENTRY_OVERHEAD
}

impl Keyed {
    fn remove(&mut self, key: &str) {
        if let Some(old) = self.responses.remove(key) {
            self.bytes -= cost(key, &old);
        }
    }

    /// Drops the expired responses, if any has expired.
    fn drop_expired(&mut self, now: Instant) {
        if self.next_expiry.is_none_or(|first| first > now) {
            return;
        }
        let mut bytes = 0;
        self.responses.retain(|key, cached| {
            let keep = cached.expires > now;
            if keep {
                bytes += cost(key, cached);
            }
            keep
        });
        self.bytes = bytes;
        self.next_expiry = self.responses.values().map(|c| c.expires).min();
    }

    /// Drops the responses that expire first until `room` more bytes and one more entry fit.
    fn make_room(&mut self, room: usize) {
        while !self.responses.is_empty()
            && (self.responses.len() >= MAX_KEYED_ENTRIES || self.bytes + room > MAX_KEYED_BYTES)
        {
            let first = self
                .responses
                .iter()
                .min_by_key(|(_, cached)| cached.expires)
                .map(|(key, _)| key.clone());
            match first {
                Some(key) => self.remove(&key),
                None => break,
            }
        }
        self.next_expiry = self.responses.values().map(|c| c.expires).min();
    }
}

impl ResponseCache {
    pub(crate) fn new(slots: usize) -> Self {
        Self {
            slots: (0..slots).map(|_| RwLock::new(None)).collect(),
            keyed: RwLock::new(Keyed::default()),
        }
    }

    /// The response kept for `key`, unless it expired (then it is dropped).
    pub(crate) fn get(&self, key: &CacheKey) -> Option<Cached> {
        let now = Instant::now();
        match key {
            CacheKey::Slot(slot) => {
                let slot = self.slots.get(*slot)?;
                let cached = slot
                    .read()
                    .unwrap_or_else(PoisonError::into_inner)
                    .clone()?;
                if cached.expires > now {
                    return Some(cached);
                }
                let mut slot = slot.write().unwrap_or_else(PoisonError::into_inner);
                if slot.as_ref().is_some_and(|c| c.expires <= now) {
                    *slot = None;
                }
                None
            }
            CacheKey::Keyed(key) => {
                let cached = self
                    .keyed
                    .read()
                    .unwrap_or_else(PoisonError::into_inner)
                    .responses
                    .get(key)
                    .cloned()?;
                if cached.expires > now {
                    return Some(cached);
                }
                self.keyed
                    .write()
                    .unwrap_or_else(PoisonError::into_inner)
                    .drop_expired(now);
                None
            }
        }
    }

    /// Keeps `cached` for `key`; a response too big for the keyed map's byte bound is not kept.
    pub(crate) fn put(&self, key: CacheKey, cached: Cached) {
        match key {
            CacheKey::Slot(slot) => {
                if let Some(slot) = self.slots.get(slot) {
                    *slot.write().unwrap_or_else(PoisonError::into_inner) = Some(cached);
                }
            }
            CacheKey::Keyed(key) => {
                let mut keyed = self.keyed.write().unwrap_or_else(PoisonError::into_inner);
                keyed.drop_expired(Instant::now());
                keyed.remove(&key);
                let size = cost(&key, &cached);
                if size > MAX_KEYED_BYTES {
                    return;
                }
                keyed.make_room(size);
                keyed.bytes += size;
                keyed.next_expiry = Some(
                    keyed
                        .next_expiry
                        .map_or(cached.expires, |first| first.min(cached.expires)),
                );
                keyed.responses.insert(key, cached);
            }
        }
    }

    /// How many responses the keyed map holds, and their bytes.
    #[cfg(test)]
    pub(crate) fn keyed_size(&self) -> (usize, usize) {
        let keyed = self.keyed.read().unwrap_or_else(PoisonError::into_inner);
        (keyed.responses.len(), keyed.bytes)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn cached(bytes: usize, ttl: Duration) -> Cached {
        Cached {
            status: StatusCode::OK,
            content_type: "text/plain",
            body: Bytes::from(vec![b'x'; bytes]),
            expires: Instant::now() + ttl,
        }
    }

    #[test]
    fn the_keyed_map_is_bounded_by_bytes_and_entries() {
        let cache = ResponseCache::new(1);
        let minute = Duration::from_secs(60);
        // 1,023 responses of 120 KB: about 120 MB if nothing bounded them.
        for n in 0..1023 {
            cache.put(
                CacheKey::Keyed(format!("/healthcheck?x={n}")),
                cached(120_000, minute),
            );
            let (entries, bytes) = cache.keyed_size();
            assert!(bytes <= MAX_KEYED_BYTES, "{bytes} bytes after {n}");
            assert!(entries <= MAX_KEYED_ENTRIES, "{entries} entries after {n}");
        }
        // As many as fit: about 4 MiB / 120 KB.
        let (entries, bytes) = cache.keyed_size();
        assert!(
            entries >= MAX_KEYED_BYTES / 120_200 - 1,
            "{entries} entries"
        );
        assert!(bytes + 120_200 > MAX_KEYED_BYTES, "{bytes} bytes");
        // The newest are kept, the oldest went first.
        assert!(
            cache
                .get(&CacheKey::Keyed("/healthcheck?x=1022".to_owned()))
                .is_some()
        );
        assert!(
            cache
                .get(&CacheKey::Keyed("/healthcheck?x=0".to_owned()))
                .is_none()
        );
        // Small responses: bounded by count.
        for n in 0..1023 {
            cache.put(
                CacheKey::Keyed(format!("/readyz?x={n}")),
                cached(10, minute),
            );
        }
        assert_eq!(cache.keyed_size().0, MAX_KEYED_ENTRIES);
        // A response bigger than the bound is not kept, and drops nothing.
        cache.put(
            CacheKey::Keyed("huge".to_owned()),
            cached(MAX_KEYED_BYTES, minute),
        );
        assert!(cache.get(&CacheKey::Keyed("huge".to_owned())).is_none());
        assert_eq!(cache.keyed_size().0, MAX_KEYED_ENTRIES);
        // Replacing a response counts its bytes once.
        let before = cache.keyed_size();
        cache.put(
            CacheKey::Keyed("/readyz?x=1022".to_owned()),
            cached(10, minute),
        );
        assert_eq!(cache.keyed_size(), before);
    }

    #[test]
    fn expired_responses_are_dropped_without_waiting_for_a_full_map() {
        let cache = ResponseCache::new(1);
        for n in 0..100 {
            cache.put(
                CacheKey::Keyed(format!("/healthcheck?x={n}")),
                cached(100_000, Duration::from_millis(20)),
            );
        }
        assert!(cache.keyed_size().0 > 30, "{:?}", cache.keyed_size());
        std::thread::sleep(Duration::from_millis(40));
        // A read of an expired response drops every expired one.
        assert!(
            cache
                .get(&CacheKey::Keyed("/healthcheck?x=99".to_owned()))
                .is_none()
        );
        assert_eq!(cache.keyed_size(), (0, 0));
        // So does an insert.
        for n in 0..10 {
            cache.put(
                CacheKey::Keyed(format!("/healthcheck?x={n}")),
                cached(100_000, Duration::from_millis(20)),
            );
        }
        std::thread::sleep(Duration::from_millis(40));
        cache.put(
            CacheKey::Keyed("fresh".to_owned()),
            cached(10, Duration::from_secs(60)),
        );
        assert_eq!(cache.keyed_size().0, 1);
        // And a slot lets its expired response go when it is read.
        cache.put(CacheKey::Slot(0), cached(100_000, Duration::from_millis(1)));
        std::thread::sleep(Duration::from_millis(5));
        assert!(cache.get(&CacheKey::Slot(0)).is_none());
        assert!(
            cache.slots[0]
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .is_none()
        );
    }
}
