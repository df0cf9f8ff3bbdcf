//! `checks::dns` with the system's resolver on `localhost`, over `tokio::net::lookup_host` (both
//! a thread hop: the system's resolver blocks), and asking a DNS server on loopback directly,
//! over the same `hickory-resolver` lookup the checker makes (a resolver made for the call, no
//! cache, `A` and `AAAA`).

use std::net::SocketAddr;

use healthcheck::checks;
use hickory_resolver::Resolver;
use hickory_resolver::config::{
    LookupIpStrategy, NameServerConfigGroup, ResolveHosts, ResolverConfig, ResolverOpts,
};
use hickory_resolver::name_server::TokioConnectionProvider;

use crate::dns_server::DnsServer;
use crate::{Row, compare};

pub(crate) fn bench(runtime: &tokio::runtime::Runtime) -> Vec<Row> {
    let system = compare(
        runtime,
        "dns (system resolver, `localhost`)",
        || async {
            tokio::net::lookup_host(("localhost", 0))
                .await
                .is_ok_and(|mut addrs| addrs.next().is_some())
        },
        checks::dns("dns", "localhost"),
    );
    let server = DnsServer::start();
    let addr = server.addr;
    let direct = compare(
        runtime,
        "dns (a server on loopback)",
        move || lookup(addr),
        checks::dns("dns", "www.test").nameserver(addr.to_string()),
    );
    drop(server);
    vec![system, direct]
}

async fn lookup(server: SocketAddr) -> bool {
    let config = ResolverConfig::from_parts(
        None,
        Vec::new(),
        NameServerConfigGroup::from_ips_clear(&[server.ip()], server.port(), true),
    );
    let mut options = ResolverOpts::default();
    options.ip_strategy = LookupIpStrategy::Ipv4AndIpv6;
    options.use_hosts_file = ResolveHosts::Never;
    options.cache_size = 1;
    options.ndots = 0;
    let resolver = Resolver::builder_with_config(config, TokioConnectionProvider::default())
        .with_options(options)
        .build();
    resolver
        .lookup_ip("www.test.")
        .await
        .is_ok_and(|lookup| lookup.iter().next().is_some())
}
