//! The default fleet store: a map in this process's memory.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, PoisonError, RwLock};
use std::time::{Duration, Instant};

use super::{BeatRecord, FleetRecord, FleetStore, StoreError, StoreFuture};

type ResultKey = (String, String, String, String);

/// The default fleet store: the results of the instances of this process, in its memory.
///
/// [`shared`](Self::shared) is one store for the whole process, so that several
/// [`HealthChecks`](crate::HealthChecks) in one program (each with its own identity) see each
/// other; [`new`](Self::new) is a store of its own. Nothing leaves the process: for several
/// processes use SQLite (one host), Redis, PostgreSQL or etcd.
#[derive(Clone, Debug, Default)]
pub struct MemoryFleetStore {
    inner: Arc<Maps>,
}

#[derive(Debug, Default)]
struct Maps {
    results: RwLock<HashMap<ResultKey, (FleetRecord, Instant)>>,
    beats: RwLock<HashMap<(String, String), (BeatRecord, Instant)>>,
}

impl MemoryFleetStore {
    /// An empty store of its own.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The process's store, shared by every user of `memory:`.
    #[must_use]
    pub fn shared() -> Self {
        static SHARED: OnceLock<MemoryFleetStore> = OnceLock::new();
        SHARED.get_or_init(Self::new).clone()
    }
}

impl FleetStore for MemoryFleetStore {
    fn publish<'a>(
        &'a self,
        records: &'a [FleetRecord],
        ttl: Duration,
    ) -> StoreFuture<'a, Result<(), StoreError>> {
        let now = Instant::now();
        let expires = now + ttl;
        let mut results = self
            .inner
            .results
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        results.retain(|_, (_, expires)| *expires > now);
        for record in records {
            let key = (
                record.service.clone(),
                record.check.clone(),
                record.group.clone(),
                record.instance.clone(),
            );
            results.insert(key, (record.clone(), expires));
        }
        Box::pin(std::future::ready(Ok(())))
    }

    fn read<'a>(
        &'a self,
        service: Option<&'a str>,
    ) -> StoreFuture<'a, Result<Vec<FleetRecord>, StoreError>> {
        let now = Instant::now();
        let results = self
            .inner
            .results
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        let found = results
            .values()
            .filter(|(record, expires)| {
                *expires > now && service.is_none_or(|s| s == record.service)
            })
            .map(|(record, _)| record.clone())
            .collect();
        Box::pin(std::future::ready(Ok(found)))
    }

    fn beat<'a>(
        &'a self,
        beat: &'a BeatRecord,
        ttl: Duration,
    ) -> StoreFuture<'a, Result<(), StoreError>> {
        let now = Instant::now();
        let mut beats = self
            .inner
            .beats
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        beats.retain(|_, (_, expires)| *expires > now);
        let key = (beat.service.clone(), beat.heartbeat.clone());
        let newer = beats.get(&key).is_none_or(|(old, _)| old.at <= beat.at);
        if newer {
            beats.insert(key, (beat.clone(), now + ttl));
        }
        Box::pin(std::future::ready(Ok(())))
    }

    fn beats<'a>(
        &'a self,
        service: &'a str,
    ) -> StoreFuture<'a, Result<Vec<BeatRecord>, StoreError>> {
        let now = Instant::now();
        let beats = self
            .inner
            .beats
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        let found = beats
            .values()
            .filter(|(beat, expires)| *expires > now && beat.service == service)
            .map(|(beat, _)| beat.clone())
            .collect();
        Box::pin(std::future::ready(Ok(found)))
    }

    fn describe(&self) -> String {
        "memory:".to_owned()
    }
}
