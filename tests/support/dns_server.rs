//! An authoritative DNS server (hickory-server) for a small zone on a loopback UDP port.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use hickory_server::ServerFuture;
use hickory_server::authority::{Catalog, ZoneType};
use hickory_server::proto::rr::rdata::{A, AAAA, SOA};
use hickory_server::proto::rr::{LowerName, Name, RData, Record};
use hickory_server::store::in_memory::InMemoryAuthority;

/// An authoritative DNS server for the zone `test.` on a loopback UDP port, on a thread of its
/// own (so it outlives any test runtime); stopped when dropped.
///
/// `www.test.` has `192.0.2.10`, `192.0.2.11` and `2001:db8::10`; `v4.test.` has `192.0.2.20`
/// alone; nothing else exists.
pub struct DnsServer {
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl DnsServer {
    pub fn start() -> Self {
        let name = |s: &str| Name::from_ascii(s).unwrap();
        let origin = name("test.");
        let mut zone = InMemoryAuthority::empty(origin.clone(), ZoneType::Primary, false);
        let soa = SOA::new(
            name("ns.test."),
            name("admin.test."),
            1,
            3600,
            600,
            86400,
            60,
        );
        let records = [
            Record::from_rdata(origin.clone(), 60, RData::SOA(soa)),
            Record::from_rdata(
                name("www.test."),
                60,
                RData::A(A(Ipv4Addr::new(192, 0, 2, 11))),
            ),
            Record::from_rdata(
                name("www.test."),
                60,
                RData::A(A(Ipv4Addr::new(192, 0, 2, 10))),
            ),
            Record::from_rdata(
                name("www.test."),
                60,
                RData::AAAA(AAAA("2001:db8::10".parse::<Ipv6Addr>().unwrap())),
            ),
            Record::from_rdata(
                name("v4.test."),
                60,
                RData::A(A(Ipv4Addr::new(192, 0, 2, 20))),
            ),
        ];
        for record in records {
            assert!(zone.upsert_mut(record, 1));
        }
        let mut catalog = Catalog::new();
        catalog.upsert(LowerName::new(&origin), vec![Arc::new(zone)]);

        let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = socket.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let mut server = ServerFuture::new(catalog);
                server.register_socket_std(socket).unwrap();
                tokio::select! {
                    _ = server.block_until_done() => {}
                    _ = stopped => {}
                }
            });
        });
        Self {
            addr,
            stop: Some(stop),
            thread: Some(thread),
        }
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
