//! Every checker kind in one report, against real servers, while one dependency hangs: the
//! report comes back on time, with that component alone failing — whichever one it is.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use healthcheck::{Check, HealthChecks, MetricsConfig, Status, checks};

use crate::support::http_server::HttpServer;
use crate::support::proxy::delaying;
use crate::support::servers::postgres::Postgres;
use crate::support::servers::{Server, etcd, memcached, redis, temp_dir};

/// The checks' timeout: the report must come back within it and a little more.
const TIMEOUT: Duration = Duration::from_millis(800);
/// What a hung dependency takes to answer: longer than anyone waits.
const FOREVER: Duration = Duration::from_secs(3600);

/// The kinds a dependency of which can hang (disk and memory are read in this process).
const NETWORK: [&str; 7] = [
    "http",
    "tcp",
    "dns",
    "postgres",
    "redis",
    "memcached",
    "etcd",
];

struct Dependencies {
    http: HttpServer,
    tcp: tokio::net::TcpListener,
    postgres: &'static Postgres,
    redis: Server,
    memcached: Server,
    etcd: Server,
    dir: PathBuf,
}

/// The address in `url` between `@` and the path.
fn host_port(url: &str) -> String {
    let rest = url.split_once('@').map_or(url, |(_, rest)| rest);
    rest.split('/').next().unwrap().to_owned()
}

impl Dependencies {
    async fn start() -> Self {
        let (redis, memcached, etcd) =
            tokio::task::spawn_blocking(|| (redis::start(None), memcached::start(), etcd::start()))
                .await
                .unwrap();
        Self {
            http: HttpServer::start(),
            tcp: tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
            postgres: Postgres::shared(),
            redis,
            memcached,
            etcd,
            dir: temp_dir("checks-all"),
        }
    }

    /// One checker of every kind, with the dependency of `hung` (if any) hanging.
    async fn checks(&self, hung: Option<&str>) -> (Vec<Check>, Vec<Hang>) {
        let is_hung = |kind: &str| hung == Some(kind);
        let mut hangs = Vec::new();
        let stalled = |addr: SocketAddr| delaying(addr, FOREVER);

        let http = if is_hung("http") {
            self.http.url(&format!("/delay/{}", FOREVER.as_millis()))
        } else {
            self.http.url("/ok")
        };
        let tcp = if is_hung("tcp") {
            let hang = Hang::full_backlog();
            let addr = hang.addr();
            hangs.push(hang);
            addr
        } else {
            self.tcp.local_addr().unwrap()
        };
        let dns = if is_hung("dns") {
            let hang = Hang::silent_udp();
            let addr = hang.addr();
            hangs.push(hang);
            checks::dns("dns", "www.example.test").nameserver(addr.to_string())
        } else {
            checks::dns("dns", "localhost")
        };
        let postgres_url = self.postgres.url();
        let postgres_url = if is_hung("postgres") {
            let real = host_port(&postgres_url);
            let proxy = stalled(real.parse().unwrap()).await;
            postgres_url.replace(&real, &proxy.to_string())
        } else {
            postgres_url
        };
        let redis_addr = if is_hung("redis") {
            stalled(self.redis.addr).await
        } else {
            self.redis.addr
        };
        let memcached_addr = if is_hung("memcached") {
            stalled(self.memcached.addr).await
        } else {
            self.memcached.addr
        };
        let etcd_addr = if is_hung("etcd") {
            stalled(self.etcd.addr).await
        } else {
            self.etcd.addr
        };
        let checks = vec![
            checks::http("http", http).into(),
            checks::tcp("tcp", tcp.to_string()).into(),
            dns.into(),
            checks::postgres("postgres", postgres_url).into(),
            checks::redis("redis", format!("redis://{redis_addr}")).into(),
            checks::memcached("memcached", memcached_addr.to_string()).into(),
            checks::etcd("etcd", [format!("http://{etcd_addr}")]).into(),
            checks::disk("disk", &self.dir)
                .degraded_below("0%")
                .unhealthy_below("0%")
                .into(),
            checks::memory("memory")
                .degraded_below("0%")
                .unhealthy_below("0%")
                .into(),
        ];
        (checks, hangs)
    }
}

/// A peer that never answers: a listener whose backlog is full (the kernel drops further
/// connection attempts), or a UDP socket that reads and says nothing.
enum Hang {
    /// The listener, and the connections that fill its backlog (held, never read).
    Tcp(socket2::Socket, #[allow(dead_code)] Vec<socket2::Socket>),
    Udp(std::net::UdpSocket),
}

impl Hang {
    fn full_backlog() -> Self {
        use socket2::{Domain, Socket, Type};
        let listener = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
        listener.bind(&any.into()).unwrap();
        listener.listen(0).unwrap();
        let addr = listener.local_addr().unwrap();
        let fillers = (0..8)
            .map(|_| {
                let filler = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
                filler.set_nonblocking(true).unwrap();
                let _ = filler.connect(&addr);
                filler
            })
            .collect();
        std::thread::sleep(Duration::from_millis(50));
        Self::Tcp(listener, fillers)
    }

    fn silent_udp() -> Self {
        Self::Udp(std::net::UdpSocket::bind("127.0.0.1:0").unwrap())
    }

    fn addr(&self) -> SocketAddr {
        match self {
            Self::Tcp(listener, _) => listener.local_addr().unwrap().as_socket().unwrap(),
            Self::Udp(socket) => socket.local_addr().unwrap(),
        }
    }
}

fn health_of(checks: Vec<Check>) -> HealthChecks {
    checks
        .into_iter()
        .fold(
            HealthChecks::builder()
                .without_registered_checks()
                .metrics(MetricsConfig::disabled())
                .default_timeout(TIMEOUT),
            |builder, check| builder.check(check),
        )
        .build()
        .expect("every checker builds")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_at_once_with_one_hung_dependency_reports_on_time() {
    let deps = Dependencies::start().await;

    // All up: every component healthy, with its own fields.
    let (checks, _hangs) = deps.checks(None).await;
    let health = health_of(checks);
    let report = health.run().await;
    assert!(report.service_healthy, "{}", report.to_json_pretty());
    assert_eq!(report.components.len(), 9);
    assert_eq!(report.components["http"].extra["status_code"], 200);
    assert!(
        report.components["postgres"]
            .extra
            .contains_key("server_version")
    );
    assert!(report.components["memcached"].extra.contains_key("version"));
    assert!(report.components["etcd"].extra.contains_key("leader"));

    for hung in NETWORK {
        let (checks, _hangs) = deps.checks(Some(hung)).await;
        let health = health_of(checks);
        let started = Instant::now();
        let report = health.run().await;
        let took = started.elapsed();
        assert!(
            took < TIMEOUT + Duration::from_millis(400),
            "with {hung} hung the report took {took:?}"
        );
        for (name, component) in &report.components {
            if name == hung {
                assert_eq!(
                    component.status,
                    Status::Unhealthy,
                    "{hung} hangs: {}",
                    report.to_json_pretty()
                );
            } else {
                assert_eq!(
                    component.status,
                    Status::Healthy,
                    "{name} with {hung} hung: {}",
                    report.to_json_pretty()
                );
            }
        }
        assert!(!report.service_healthy);
    }
}
