//! A fleet store on etcd: each record as JSON under its own key, on a lease of its instance.
//!
//! Keys, under a prefix (`healthcheck` unless [`EtcdStore::with_prefix`] says otherwise), with
//! every name escaped by [`key_segment`] so that none can reach into another key:
//!
//! - `/<prefix>/<service>/results/<check>/<group>/<instance>`: one instance's latest result of
//!   one check in one group, [`FleetRecord::to_json`];
//! - `/<prefix>/<service>/beats/<heartbeat>`: a heartbeat's latest beat, [`BeatRecord::to_json`].
//!
//! Each instance's keys sit on a lease whose time to live is the `ttl` of its publish. A task on
//! the SDK's runtime holds the lease's keep-alive stream and renews the lease after each publish,
//! so the lease runs out `ttl` after the instance's last publish: when it stopped publishing, or
//! its process died. A lease that ran out while etcd was away is granted anew on the next
//! publish. A publish is one transaction (one revision); a read is one range request.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use etcd_client::{
    Client, ConnectOptions, GetOptions, LeaseKeepAliveStream, LeaseKeeper, PutOptions, Txn, TxnOp,
};
use tokio::sync::mpsc;

use super::task::on_own_runtime;
use super::{
    BeatRecord, FleetRecord, FleetStore, StoreError, StoreFuture, StoreUrl, decode_values,
    key_segment,
};

/// The prefix of every key, unless [`EtcdStore::with_prefix`] sets another.
const DEFAULT_PREFIX: &str = "healthcheck";
/// The port of an endpoint that names none.
const DEFAULT_PORT: u16 = 2379;

/// How long one connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long etcd may take to answer one request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(3);
/// How long one call of the store may take in all, connecting and granting leases included.
const CALL_DEADLINE: Duration = Duration::from_secs(5);

/// A [`FleetStore`] on etcd: `etcd://host:2379`, `etcd://h1:2379,h2:2379`, with
/// `etcd://user:password@...` when etcd's authentication is on.
///
/// Constructing it does not connect: the first call does, on the SDK's own runtime, so that the
/// connection and the lease keep-alives outlive the runtime of whoever called first. A server
/// that is down makes calls fail within a few seconds with a [`StoreError`]; once it is back, the
/// same store works again. Its [`Debug`](fmt::Debug) output and its errors show the URL with the
/// password masked.
///
/// # Example
/// ```no_run
/// use std::time::Duration;
/// use healthcheck::fleet::{EtcdStore, FleetStore};
///
/// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
/// let store = EtcdStore::new("etcd://root:s3cret@etcd-1:2379,etcd-2:2379")?;
/// store.publish(&[], Duration::from_secs(60)).await?;
/// let failing: Vec<_> = store
///     .read(Some("payments"))
///     .await?
///     .into_iter()
///     .filter(|record| !record.status.is_healthy())
///     .collect();
/// # Ok(())
/// # }
/// ```
pub struct EtcdStore {
    url: StoreUrl,
    prefix: String,
    shared: Arc<Shared>,
}

/// What the calls of one store share: how to connect, the client once connected, and the
/// leases of the instances it published for.
struct Shared {
    endpoints: Vec<String>,
    user: Option<(String, String)>,
    client: Mutex<Option<Client>>,
    leases: Mutex<HashMap<LeaseKey, Lease>>,
}

/// Whose lease: results or beats, of which instance, for which time to live in seconds.
type LeaseKey = (Kind, String, i64);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Kind {
    Results,
    Beats,
}

/// A granted lease and the task that renews it.
struct Lease {
    id: i64,
    /// Asks the keep-alive task to renew the lease now; closed once the task has ended.
    renew: mpsc::UnboundedSender<()>,
    /// Set by the task when etcd says the lease is gone.
    lost: Arc<AtomicBool>,
}

impl Lease {
    fn usable(&self) -> bool {
        !self.renew.is_closed() && !self.lost.load(Ordering::Relaxed)
    }
}

impl EtcdStore {
    /// A store at `url`, such as `etcd://h1:2379,h2:2379` or `etcd://user:password@host:2379`.
    /// Does not connect.
    ///
    /// # Errors
    /// [`StoreError`] (with the password masked) when `url` is not an etcd URL.
    pub fn new(url: &str) -> Result<Self, StoreError> {
        let parsed = StoreUrl::parse(url)
            .map_err(|reason| StoreError::described("(not a URL)".to_owned(), reason))?;
        Self::from_url(&parsed)
            .map_err(|reason| StoreError::described(parsed.masked().to_owned(), reason))
    }

    /// A store at `url`, whose scheme is `etcd`. Does not connect.
    pub(crate) fn from_url(url: &StoreUrl) -> Result<Self, String> {
        let (endpoints, user) = parse_endpoints(url)?;
        Ok(Self {
            url: url.clone(),
            prefix: DEFAULT_PREFIX.to_owned(),
            shared: Arc::new(Shared {
                endpoints,
                user,
                client: Mutex::new(None),
                leases: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// The store with its keys under `/<prefix>/` instead of `/healthcheck/`, to share one etcd
    /// between several fleets. Used as is (not escaped).
    #[must_use]
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into().trim_matches('/').to_owned();
        self
    }

    /// The prefix of the store's keys, without slashes.
    #[must_use]
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Runs `op` with a client, on the SDK's runtime, within [`CALL_DEADLINE`].
    async fn call<T, F, Fut>(&self, op: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(Arc<Shared>, Client) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, etcd_client::Error>> + Send,
    {
        let shared = Arc::clone(&self.shared);
        on_own_runtime(&self.url, CALL_DEADLINE, async move {
            let client = shared.client().await.map_err(|e| e.to_string())?;
            op(shared, client).await.map_err(|e| e.to_string())
        })
        .await
    }

    fn result_key(&self, record: &FleetRecord) -> String {
        format!(
            "/{}/{}/results/{}/{}/{}",
            self.prefix,
            key_segment(&record.service),
            key_segment(&record.check),
            key_segment(&record.group),
            key_segment(&record.instance)
        )
    }

    fn beat_key(&self, beat: &BeatRecord) -> String {
        format!(
            "/{}/{}/beats/{}",
            self.prefix,
            key_segment(&beat.service),
            key_segment(&beat.heartbeat)
        )
    }

    /// Decodes the values under `kind` keys among `values`, keeping what `keep` accepts and
    /// warning once about what is not a record.
    fn decode<R>(
        &self,
        values: Vec<(String, Vec<u8>)>,
        kind: &str,
        decode: impl Fn(&[u8]) -> Result<R, String>,
        keep: impl Fn(&R) -> bool,
    ) -> Vec<R> {
        let root = format!("/{}/", self.prefix);
        let of_kind = values.into_iter().filter(|(key, _)| {
            key.strip_prefix(&root)
                .and_then(|rest| rest.split('/').nth(1))
                .is_some_and(|k| k == kind)
        });
        decode_values(&self.url, of_kind, decode, keep)
    }
}

/// The endpoints (`http://host:port`) and the credentials of an `etcd://` URL.
#[allow(clippy::type_complexity)]
pub(crate) fn parse_endpoints(
    url: &StoreUrl,
) -> Result<(Vec<String>, Option<(String, String)>), String> {
    let rest = url
        .expose()
        .split_once("://")
        .filter(|_| url.scheme() == "etcd")
        .map(|(_, rest)| rest)
        .ok_or_else(|| format!("{url} is not an etcd URL (expected etcd://host:2379)"))?;
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let (user, hosts) = match authority.rsplit_once('@') {
        Some((userinfo, hosts)) => {
            let (name, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
            let decode = |s: &str| {
                percent_encoding::percent_decode_str(s)
                    .decode_utf8()
                    .map(std::borrow::Cow::into_owned)
                    .map_err(|_| format!("{url}: the user or password is not UTF-8"))
            };
            (Some((decode(name)?, decode(password)?)), hosts)
        }
        None => (None, authority),
    };
    let endpoints: Vec<String> = hosts
        .split(',')
        .map(str::trim)
        .filter(|host| !host.is_empty())
        .map(|host| {
            if host
                .rsplit_once(':')
                .is_some_and(|(_, port)| port.parse::<u16>().is_ok())
                && !host.ends_with(']')
            {
                format!("http://{host}")
            } else {
                format!("http://{host}:{DEFAULT_PORT}")
            }
        })
        .collect();
    if endpoints.is_empty() {
        return Err(format!(
            "{url} names no endpoint (expected etcd://host:2379)"
        ));
    }
    Ok((endpoints, user))
}

impl Shared {
    /// The client, connected on first use (which, with credentials, logs in). Runs on the SDK's
    /// runtime, where the client then spawns its tasks.
    async fn client(&self) -> Result<Client, etcd_client::Error> {
        if let Some(client) = self
            .client
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
        {
            return Ok(client.clone());
        }
        let mut options = ConnectOptions::new()
            .with_connect_timeout(CONNECT_TIMEOUT)
            .with_timeout(REQUEST_TIMEOUT)
            .with_auto_token_refresh(true);
        if let Some((name, password)) = &self.user {
            options = options.with_user(name.clone(), password.clone());
        }
        let client = Client::connect(&self.endpoints, Some(options)).await?;
        let mut slot = self.client.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(slot.get_or_insert(client).clone())
    }

    /// The lease of `key`: the one granted before if it is still kept, else a new one with its
    /// keep-alive task.
    async fn lease(&self, client: &Client, key: &LeaseKey) -> Result<i64, etcd_client::Error> {
        {
            let mut leases = self.leases.lock().unwrap_or_else(PoisonError::into_inner);
            leases.retain(|_, lease| lease.usable());
            if let Some(lease) = leases.get(key) {
                return Ok(lease.id);
            }
        }
        let ttl = key.2;
        let granted = client.lease_client().grant(ttl, None).await?;
        let (renew, requests) = mpsc::unbounded_channel();
        let lost = Arc::new(AtomicBool::new(false));
        let id = granted.id();
        tokio::spawn(keep_alive(
            client.clone(),
            id,
            granted.ttl().max(ttl),
            requests,
            Arc::clone(&lost),
        ));
        self.leases
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key.clone(), Lease { id, renew, lost });
        Ok(id)
    }

    /// Forgets the lease of `key`, which etcd no longer has.
    fn forget(&self, key: &LeaseKey) {
        self.leases
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(key);
    }

    /// Asks the keep-alive task of `key`'s lease to renew it: the keys just written on it expire
    /// a full time to live from now.
    /// Whether the task was there to ask.
    fn renew(&self, key: &LeaseKey) -> bool {
        self.leases
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)
            .is_some_and(|lease| lease.renew.send(()).is_ok())
    }

    /// Writes `puts` (key, value, lease key) in one transaction, on the leases of their
    /// instances; when one of those leases ran out meanwhile (etcd was away longer than its
    /// time to live), grants it anew and writes once more.
    async fn put_all(
        &self,
        client: &Client,
        puts: &[(String, String, LeaseKey)],
    ) -> Result<(), etcd_client::Error> {
        for attempt in 0..2 {
            let mut ids = HashMap::new();
            for (_, _, lease) in puts {
                if !ids.contains_key(lease) {
                    ids.insert(lease.clone(), self.lease(client, lease).await?);
                }
            }
            let operations: Vec<TxnOp> = puts
                .iter()
                .map(|(key, value, lease)| {
                    TxnOp::put(
                        key.as_str(),
                        value.as_str(),
                        Some(PutOptions::new().with_lease(ids[lease])),
                    )
                })
                .collect();
            match client
                .kv_client()
                .txn(Txn::new().and_then(operations))
                .await
            {
                Ok(_) => {
                    let renewed = ids.keys().filter(|lease| self.renew(lease)).count();
                    if renewed == ids.len() || attempt > 0 {
                        return Ok(());
                    }
                    // A keep-alive task ended (its lease running out) just as this write went
                    // on its lease: write once more, on a new one.
                    for lease in ids.keys() {
                        self.forget(lease);
                    }
                }
                Err(e) if attempt == 0 && lease_not_found(&e) => {
                    for lease in ids.keys() {
                        self.forget(lease);
                    }
                }
                Err(e) => return Err(e),
            }
        }
        unreachable!("the second attempt returns")
    }
}

/// Whether etcd refused a write for a lease it does not have (any more).
fn lease_not_found(error: &etcd_client::Error) -> bool {
    match error {
        etcd_client::Error::GRpcStatus(status) => status.message().contains("lease not found"),
        etcd_client::Error::LeaseKeepAliveError(message) => message.contains("lease not found"),
        _ => false,
    }
}

/// Renews lease `id` each time `requests` asks, over one keep-alive stream (opened again after
/// etcd went away). Ends when the store is dropped, when nobody asked for a whole time to live
/// (the lease has run out, and its instance's keys with it), or when etcd says the lease is gone.
async fn keep_alive(
    client: Client,
    id: i64,
    ttl: i64,
    mut requests: mpsc::UnboundedReceiver<()>,
    lost: Arc<AtomicBool>,
) {
    let idle = Duration::from_secs(u64::try_from(ttl).unwrap_or(1).max(1));
    let mut stream: Option<(LeaseKeeper, LeaseKeepAliveStream)> = None;
    loop {
        match tokio::time::timeout(idle, requests.recv()).await {
            Ok(Some(())) => while requests.try_recv().is_ok() {},
            Ok(None) | Err(_) => return,
        }
        let renewed = tokio::time::timeout(REQUEST_TIMEOUT, async {
            let Some((keeper, responses)) = stream.as_mut() else {
                // Opening the stream renews the lease once.
                stream = Some(client.lease_client().keep_alive(id).await?);
                return Ok(true);
            };
            keeper.keep_alive().await?;
            Ok::<_, etcd_client::Error>(responses.message().await?.is_some_and(|r| r.ttl() > 0))
        })
        .await;
        match renewed {
            Ok(Ok(true)) => {}
            Ok(Ok(false)) => {
                lost.store(true, Ordering::Relaxed);
                return;
            }
            Ok(Err(e)) if lease_not_found(&e) => {
                lost.store(true, Ordering::Relaxed);
                return;
            }
            // etcd away: the next renewal opens a new stream.
            Ok(Err(_)) | Err(_) => stream = None,
        }
    }
}

/// A time to live in whole seconds, rounded up: etcd raises it to its own minimum if needed.
fn seconds(ttl: Duration) -> i64 {
    let whole = ttl.as_secs() + u64::from(ttl.subsec_nanos() > 0);
    i64::try_from(whole.max(1)).unwrap_or(i64::MAX)
}

impl FleetStore for EtcdStore {
    fn publish<'a>(
        &'a self,
        records: &'a [FleetRecord],
        ttl: Duration,
    ) -> StoreFuture<'a, Result<(), StoreError>> {
        let puts: Vec<(String, String, LeaseKey)> = records
            .iter()
            .map(|record| {
                (
                    self.result_key(record),
                    record.to_json(),
                    (Kind::Results, record.instance.clone(), seconds(ttl)),
                )
            })
            .collect();
        Box::pin(async move {
            if puts.is_empty() {
                return Ok(());
            }
            self.call(move |shared, client| async move { shared.put_all(&client, &puts).await })
                .await
        })
    }

    fn read<'a>(
        &'a self,
        service: Option<&'a str>,
    ) -> StoreFuture<'a, Result<Vec<FleetRecord>, StoreError>> {
        let range = match service {
            Some(service) => format!("/{}/{}/results/", self.prefix, key_segment(service)),
            None => format!("/{}/", self.prefix),
        };
        Box::pin(async move {
            let values = self.call(move |_, client| range_of(client, range)).await?;
            Ok(
                self.decode(values, "results", FleetRecord::from_json, |record| {
                    service.is_none_or(|s| s == record.service)
                }),
            )
        })
    }

    fn beat<'a>(
        &'a self,
        beat: &'a BeatRecord,
        ttl: Duration,
    ) -> StoreFuture<'a, Result<(), StoreError>> {
        let puts = vec![(
            self.beat_key(beat),
            beat.to_json(),
            (Kind::Beats, beat.instance.clone(), seconds(ttl)),
        )];
        Box::pin(
            self.call(move |shared, client| async move { shared.put_all(&client, &puts).await }),
        )
    }

    fn beats<'a>(
        &'a self,
        service: &'a str,
    ) -> StoreFuture<'a, Result<Vec<BeatRecord>, StoreError>> {
        let range = format!("/{}/{}/beats/", self.prefix, key_segment(service));
        Box::pin(async move {
            let values = self.call(move |_, client| range_of(client, range)).await?;
            Ok(self.decode(values, "beats", BeatRecord::from_json, |beat| {
                beat.service == service
            }))
        })
    }

    fn describe(&self) -> String {
        self.url.masked().to_owned()
    }
}

/// Keys read per range request: a page of records stays well under gRPC's 4 MiB limit on a
/// response.
const PAGE: i64 = 500;

/// Every key under `prefix` with its value, page by page, all at the revision of the first
/// page (a consistent snapshot however many pages it takes).
async fn range_of(
    client: Client,
    prefix: String,
) -> Result<Vec<(String, Vec<u8>)>, etcd_client::Error> {
    let end = prefix_end(prefix.as_bytes());
    let mut start = prefix.into_bytes();
    let mut revision = 0;
    let mut all = Vec::new();
    loop {
        let mut options = GetOptions::new().with_range(end.clone()).with_limit(PAGE);
        if revision > 0 {
            options = options.with_revision(revision);
        }
        let mut response = client.kv_client().get(start.clone(), Some(options)).await?;
        if revision == 0 {
            revision = response.header().map_or(0, |h| h.revision());
        }
        let more = response.more();
        let kvs = response.take_kvs();
        let last = kvs.last().map(|kv| kv.key().to_vec());
        all.extend(kvs.into_iter().map(|kv| {
            let (key, value) = kv.into_key_value();
            (String::from_utf8_lossy(&key).into_owned(), value)
        }));
        match (more, last) {
            (true, Some(mut last)) => {
                // The next key after the last one read.
                last.push(0);
                start = last;
            }
            _ => return Ok(all),
        }
    }
}

/// The end of the range of keys that start with `prefix`, as etcd computes it.
fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    // Every byte is 0xff: to the end of the key space.
    vec![0]
}

impl fmt::Debug for EtcdStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EtcdStore")
            .field("url", &self.url)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_and_credentials_come_from_the_url() {
        let url = StoreUrl::parse("etcd://root:p%40ss@h1:2379,h2,[::1]:2380/x").unwrap();
        let (endpoints, user) = parse_endpoints(&url).unwrap();
        assert_eq!(
            endpoints,
            ["http://h1:2379", "http://h2:2379", "http://[::1]:2380"]
        );
        assert_eq!(user, Some(("root".to_owned(), "p@ss".to_owned())));
        let url = StoreUrl::parse("etcd://h1").unwrap();
        assert_eq!(
            parse_endpoints(&url).unwrap(),
            (vec!["http://h1:2379".to_owned()], None)
        );
        assert!(EtcdStore::new("etcd://").is_err());
        assert!(EtcdStore::new("redis://h1").is_err());
    }

    #[test]
    fn time_to_live_is_whole_seconds_rounded_up() {
        assert_eq!(seconds(Duration::from_millis(1500)), 2);
        assert_eq!(seconds(Duration::from_secs(60)), 60);
        assert_eq!(seconds(Duration::ZERO), 1);
    }

    #[test]
    fn the_password_never_shows() {
        let store = EtcdStore::new("etcd://root:s3cret@h1:2379").unwrap();
        let shown = format!("{store:?} {}", store.describe());
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("etcd://root:***@h1:2379"), "{shown}");
        let error = EtcdStore::new("etcd://root:s3cret@").unwrap_err();
        assert!(!error.to_string().contains("s3cret"), "{error}");
    }
}
