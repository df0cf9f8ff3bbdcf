//! The etcd checker: asks the cluster for its members, then each member for its status; healthy
//! when all answer and a leader is known, degraded when a minority is down.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use etcd_client::{Client, ConnectOptions, MemberListResponse, StatusResponse};

use crate::check::Check;
use crate::checks::task::{on_own_runtime, with_causes};
use crate::checks::{Common, common_settings, redact};
use crate::component::Component;

/// The port of an endpoint that names none.
const DEFAULT_PORT: u16 = 2379;
/// The check's timeout when it sets none (the runner's default).
const DEFAULT_CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// An etcd cluster check, made by [`etcd`].
///
/// Each run asks the cluster (through the endpoints given) for its member list, then asks every
/// voting member, at its own client URL, for its status, all at once. A member that does not
/// answer within the connect timeout counts as down.
///
/// - healthy: every member answers and they know a leader;
/// - degraded: a member is down but a quorum (a majority) answers and knows a leader
///   (`1 of 3 members down: etcd-2`), or a member reports errors (such as an alarm);
/// - unhealthy: no quorum answers, or no leader is known, or the member list cannot be had.
///
/// Fields: `members` (how many voting members the cluster has), `healthy_members` (how many
/// answered), `leader` (the leader's name, or its id in hex when it has none), `down` (the names
/// of the members that did not answer).
///
/// The clients are made on first use (building never connects) on the SDK's runtime, so that
/// they outlive the runtime that first ran the check, and kept between runs; one that failed is
/// made afresh on the next run.
///
/// # Example
/// ```no_run
/// use std::time::Duration;
/// use healthcheck::{HealthChecks, checks};
///
/// let health = HealthChecks::builder()
///     .check(
///         checks::etcd("etcd", ["etcd-1:2379", "etcd-2:2379", "etcd-3:2379"])
///             .user("health", "s3cret")
///             .timeout(Duration::from_secs(3)),
///     )
///     .build()?;
/// # Ok::<(), healthcheck::Error>(())
/// ```
#[must_use = "a checker does nothing until it is given to HealthChecksBuilder::check"]
pub struct Etcd {
    common: Common,
    endpoints: Vec<String>,
    user: Option<(String, String)>,
    connect_timeout: Option<Duration>,
}

common_settings!(Etcd);

impl fmt::Debug for Etcd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Etcd")
            .field("name", &self.common.name())
            .field("endpoints", &redact(&self.endpoints.join(",")))
            .field("user", &self.user.as_ref().map(|(name, _)| name))
            .field("connect_timeout", &self.connect_timeout)
            .finish_non_exhaustive()
    }
}

/// A check named `name` of the etcd cluster reached through `endpoints`: each
/// `http://host:port`, `host:port` or `host` (port 2379), and an item may hold several
/// separated by commas. One endpoint is enough to find the members; several keep the check
/// working while the one it would use is down.
///
/// No endpoint, an endpoint that is not `host[:port]`, an `https://` endpoint (this build of
/// the checker has no TLS), or credentials in an endpoint (give them to [`Etcd::user`]) make
/// [`HealthChecksBuilder::build`](crate::HealthChecksBuilder::build) fail with
/// [`Error::InvalidCheck`](crate::Error::InvalidCheck).
#[track_caller]
pub fn etcd<I, S>(name: impl Into<String>, endpoints: I) -> Etcd
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let mut common = Common::new(name);
    let mut parsed = Vec::new();
    for item in endpoints {
        for endpoint in item.as_ref().split(',') {
            match parse_endpoint(endpoint) {
                Ok(endpoint) => parsed.push(endpoint),
                Err(reason) => common.invalid(format!(
                    "invalid etcd endpoint {:?}: {reason}",
                    redact(endpoint.trim())
                )),
            }
        }
    }
    if parsed.is_empty() {
        common.invalid("no etcd endpoint given");
    }
    Etcd {
        common,
        endpoints: parsed,
        user: None,
        connect_timeout: None,
    }
}

/// `http://host:port` for `endpoint`, or what is wrong with it.
fn parse_endpoint(endpoint: &str) -> Result<String, String> {
    let endpoint = endpoint.trim();
    if endpoint.is_empty() {
        return Err("it is empty".to_owned());
    }
    let lower = endpoint.to_ascii_lowercase();
    if lower.starts_with("https://") {
        return Err(
            "https is not supported: the etcd-client crate is built without TLS".to_owned(),
        );
    }
    let rest = if lower.starts_with("http://") {
        &endpoint["http://".len()..]
    } else if endpoint.contains("://") {
        return Err("expected http://host:port or host:port".to_owned());
    } else {
        endpoint
    };
    let authority = rest.trim_end_matches('/');
    if authority.contains('/') || authority.contains('?') || authority.contains('#') {
        return Err("an endpoint has no path".to_owned());
    }
    if authority.contains('@') {
        return Err("credentials go to .user(name, password), not into the endpoint".to_owned());
    }
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) if !port.contains(']') => (host, Some(port)),
        _ => (authority, None),
    };
    if host.is_empty() || host == "[]" {
        return Err("the host is empty".to_owned());
    }
    if host.contains(':') && !host.starts_with('[') {
        return Err("write an IPv6 address in brackets: [::1]:2379".to_owned());
    }
    let port = match port {
        None => DEFAULT_PORT,
        Some(port) => match port.parse::<u16>() {
            Ok(port) if port > 0 => port,
            _ => return Err(format!("the port {port:?} is not a number in 1..=65535")),
        },
    };
    let url = format!("http://{host}:{port}");
    url.parse::<http::Uri>()
        .map_err(|e| format!("not a valid address: {e}"))?;
    Ok(url)
}

impl Etcd {
    /// Logs in as `name` with `password`, for a cluster with authentication on. The password
    /// never shows in messages, fields or `Debug`.
    pub fn user(mut self, name: impl Into<String>, password: impl Into<String>) -> Self {
        self.user = Some((name.into(), password.into()));
        self
    }

    /// How long connecting to an endpoint or a member, and its answer, may take before it
    /// counts as down. Defaults to half the check's timeout (1 s with the default timeout of
    /// 2 s), so that the check can say which members are down before its own timeout.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }
}

/// What the runs of one checker share.
struct Shared {
    endpoints: Vec<String>,
    options: ConnectOptions,
    /// How long one member may take.
    member_timeout: Duration,
    /// A client per endpoint given, once made.
    clients: Mutex<HashMap<String, Client>>,
    /// The endpoint that answered the member list last.
    preferred: AtomicUsize,
    /// A client per member, by member id, with the URLs it was made for.
    members: Mutex<HashMap<u64, (Vec<String>, Client)>>,
}

impl From<Etcd> for Check {
    fn from(etcd: Etcd) -> Check {
        let Etcd {
            common,
            endpoints,
            user,
            connect_timeout,
        } = etcd;
        let member_timeout = connect_timeout
            .unwrap_or_else(|| common.timeout_setting().unwrap_or(DEFAULT_CHECK_TIMEOUT) / 2);
        let mut options = ConnectOptions::new()
            .with_connect_timeout(member_timeout)
            .with_timeout(member_timeout);
        if let Some((name, password)) = user {
            options = options.with_user(name, password);
        }
        let shared = Arc::new(Shared {
            endpoints,
            options,
            member_timeout,
            clients: Mutex::new(HashMap::new()),
            preferred: AtomicUsize::new(0),
            members: Mutex::new(HashMap::new()),
        });
        common.into_check(move || on_own_runtime(probe(Arc::clone(&shared))))
    }
}

/// A voting member as the list gave it.
struct Member {
    id: u64,
    name: String,
    urls: Vec<String>,
}

impl Member {
    /// Its name, or its id in hex when it has none (not started yet).
    fn label(&self) -> String {
        if self.name.is_empty() {
            format!("{:x}", self.id)
        } else {
            self.name.clone()
        }
    }
}

async fn probe(shared: Arc<Shared>) -> Component {
    let members = match shared.member_list().await {
        Ok(members) => members,
        Err(e) => {
            let message = format!("cannot list the members of etcd: {e}");
            return Component::unhealthy(redact(&message).into_owned());
        }
    };
    let statuses =
        futures_util::future::join_all(members.iter().map(|member| shared.status(member))).await;
    shared.forget_others(&members);
    judge(&members, &statuses)
}

/// The component for the members and their answers (in the same order).
fn judge(members: &[Member], statuses: &[Result<StatusResponse, String>]) -> Component {
    let total = members.len();
    let quorum = total / 2 + 1;
    let mut down = Vec::new();
    let mut leaders: HashMap<u64, usize> = HashMap::new();
    let mut errors = Vec::new();
    for (member, status) in members.iter().zip(statuses) {
        match status {
            Ok(status) => {
                if status.leader() != 0 {
                    *leaders.entry(status.leader()).or_default() += 1;
                }
                for error in status.errors() {
                    errors.push(format!("{}: {error}", member.label()));
                }
            }
            Err(e) => {
                tracing::debug!(
                    target: "healthcheck::checks",
                    "etcd member {} is down: {}",
                    member.label(),
                    redact(e)
                );
                down.push(member.label());
            }
        }
    }
    let healthy = total - down.len();
    // The leader most answers name (they agree, but for the moment of an election).
    let leader = leaders
        .into_iter()
        .max_by_key(|&(id, count)| (count, std::cmp::Reverse(id)))
        .map(|(id, _)| {
            members
                .iter()
                .find(|m| m.id == id)
                .map_or_else(|| format!("{id:x}"), Member::label)
        });
    let mut component = Component::healthy()
        .field("members", total)
        .field("healthy_members", healthy)
        .field("down", down.clone());
    if let Some(leader) = &leader {
        component.insert("leader", leader.clone());
    }
    let down_text = if down.is_empty() {
        String::new()
    } else {
        format!(
            "{} of {total} members down: {}",
            down.len(),
            down.join(", ")
        )
    };
    if total == 0 {
        component.set_status(crate::component::Status::Unhealthy);
        component.set_status_message("the cluster lists no voting member");
    } else if healthy < quorum {
        component.set_status(crate::component::Status::Unhealthy);
        component.set_status_message(format!(
            "{down_text}; no quorum ({healthy} of {total} answer, {quorum} needed)"
        ));
    } else if leader.is_none() {
        component.set_status(crate::component::Status::Unhealthy);
        let prefix = if down.is_empty() {
            String::new()
        } else {
            format!("{down_text}; ")
        };
        component.set_status_message(format!("{prefix}no leader"));
    } else if !down.is_empty() || !errors.is_empty() {
        let mut said = Vec::new();
        if !down.is_empty() {
            said.push(down_text);
        }
        if !errors.is_empty() {
            said.push(format!("errors: {}", errors.join("; ")));
        }
        component.set_degraded(redact(&said.join("; ")).into_owned());
    } else {
        component.set_status_message(format!(
            "{total} members, leader {}",
            leader.unwrap_or_default()
        ));
    }
    component
}

impl Shared {
    fn lock_endpoints(&self) -> std::sync::MutexGuard<'_, HashMap<String, Client>> {
        self.clients.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn lock_members(&self) -> std::sync::MutexGuard<'_, HashMap<u64, (Vec<String>, Client)>> {
        self.members.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The voting members, asked at the endpoint that answered last time, or else at all the
    /// others at once (the first answer wins).
    async fn member_list(&self) -> Result<Vec<Member>, String> {
        let preferred = self.preferred.load(Ordering::Relaxed);
        let first = self.member_list_at(preferred).await;
        let list = match first {
            Ok(list) => list,
            Err(first_error) if self.endpoints.len() == 1 => return Err(first_error),
            Err(first_error) => {
                let others = (0..self.endpoints.len())
                    .filter(|&i| i != preferred)
                    .map(|i| Box::pin(async move { self.member_list_at(i).await.map(|l| (i, l)) }));
                match futures_util::future::select_ok(others).await {
                    Ok(((i, list), _)) => {
                        self.preferred.store(i, Ordering::Relaxed);
                        list
                    }
                    Err(last_error) => {
                        return Err(format!("{first_error}; and the others: {last_error}"));
                    }
                }
            }
        };
        Ok(list
            .members()
            .iter()
            .filter(|member| !member.is_learner())
            .map(|member| Member {
                id: member.id(),
                name: member.name().to_owned(),
                urls: member.client_urls().to_vec(),
            })
            .collect())
    }

    /// The member list, asked at endpoint `i`, within the member timeout; its client is made
    /// afresh next time when it fails.
    async fn member_list_at(&self, i: usize) -> Result<MemberListResponse, String> {
        let endpoint = &self.endpoints[i];
        let answer = tokio::time::timeout(self.member_timeout, async {
            let cached = self.lock_endpoints().get(endpoint).cloned();
            let client = match cached {
                Some(client) => client,
                None => {
                    let client = Client::connect([endpoint], Some(self.options.clone()))
                        .await
                        .map_err(|e| self.said(&e))?;
                    self.lock_endpoints()
                        .insert(endpoint.clone(), client.clone());
                    client
                }
            };
            client
                .cluster_client()
                .member_list()
                .await
                .map_err(|e| self.said(&e))
        })
        .await
        .unwrap_or_else(|_| Err(self.timed_out()));
        if answer.is_err() {
            self.lock_endpoints().remove(endpoint);
        }
        answer.map_err(|e| format!("{endpoint}: {e}"))
    }

    /// What `error` says, or that the request timed out when that is what it says.
    fn said(&self, error: &etcd_client::Error) -> String {
        let text = with_causes(error);
        if text.contains("Timeout expired") || text.contains("TimeoutExpired") {
            self.timed_out()
        } else {
            text
        }
    }

    fn timed_out(&self) -> String {
        format!(
            "timed out after {}",
            humantime::format_duration(self.member_timeout)
        )
    }

    /// The status of `member`, asked at its client URLs, within the member timeout.
    async fn status(&self, member: &Member) -> Result<StatusResponse, String> {
        if member.urls.is_empty() {
            return Err("it has not started (no client URL)".to_owned());
        }
        let answer = tokio::time::timeout(self.member_timeout, async {
            let client = self.member_client(member).await?;
            client
                .maintenance_client()
                .status()
                .await
                .map_err(|e| self.said(&e))
        })
        .await
        .unwrap_or_else(|_| Err(self.timed_out()));
        if answer.is_err() {
            self.lock_members().remove(&member.id);
        }
        answer
    }

    /// The client of `member`, made when there is none for its URLs.
    async fn member_client(&self, member: &Member) -> Result<Client, String> {
        if let Some((urls, client)) = self.lock_members().get(&member.id) {
            if *urls == member.urls {
                return Ok(client.clone());
            }
        }
        let client = Client::connect(&member.urls, Some(self.options.clone()))
            .await
            .map_err(|e| self.said(&e))?;
        self.lock_members()
            .insert(member.id, (member.urls.clone(), client.clone()));
        Ok(client)
    }

    /// Drops the clients of members no longer listed.
    fn forget_others(&self, members: &[Member]) {
        self.lock_members()
            .retain(|id, _| members.iter().any(|member| member.id == *id));
    }
}

#[cfg(test)]
mod tests {
    use super::parse_endpoint;

    #[test]
    fn endpoints_parse_or_say_what_is_wrong() {
        assert_eq!(parse_endpoint("etcd-1").unwrap(), "http://etcd-1:2379");
        assert_eq!(
            parse_endpoint(" http://127.0.0.1:23790/ ").unwrap(),
            "http://127.0.0.1:23790"
        );
        assert_eq!(parse_endpoint("[::1]:2379").unwrap(), "http://[::1]:2379");
        for (bad, says) in [
            ("", "empty"),
            ("https://etcd:2379", "https"),
            ("grpc://etcd:2379", "expected"),
            ("etcd:0", "1..=65535"),
            ("etcd:port", "1..=65535"),
            ("http://root:pw@etcd:2379", "credentials"),
            ("etcd:2379/v3", "path"),
            ("::1:2379", "brackets"),
            (":2379", "host is empty"),
        ] {
            let err = parse_endpoint(bad).expect_err(bad);
            assert!(err.contains(says), "{bad}: {err}");
        }
    }
}
