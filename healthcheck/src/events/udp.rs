//! The UDP loop: reads what the socket has, a datagram at a time, into the intake's queue through
//! the same door as HTTP ([`Events::submit`]), until the intake is closed or gone.

use std::sync::Weak;
use std::time::Instant;

use tokio::net::UdpSocket;
use tokio::sync::watch;

use super::drops::Served;
use super::logs::Limited;
use super::{Counters, EventSource, Events, Rejected, Shared};

/// The receive buffer asked for: room for a burst of a few thousand datagrams.
const RECEIVE_BUFFER: usize = 4 << 20;
/// The largest datagram there can be (IPv6 without jumbograms), plus one.
const LARGEST_DATAGRAM: usize = 65_536;
/// How many datagrams are read before letting the runtime's other tasks run.
const BATCH: usize = 256;

/// Raises the socket's receive buffer to [`RECEIVE_BUFFER`], unless it is larger already.
pub(super) fn raise_receive_buffer(socket: &UdpSocket) {
    let socket = socket2::SockRef::from(socket);
    // Linux reports twice what was set (the kernel's bookkeeping is counted in).
    if socket
        .recv_buffer_size()
        .is_ok_and(|size| size >= RECEIVE_BUFFER)
    {
        return;
    }
    match socket.set_recv_buffer_size(RECEIVE_BUFFER) {
        Ok(()) => tracing::debug!(
            asked = RECEIVE_BUFFER,
            got = socket.recv_buffer_size().ok(),
            "the receive buffer of an event socket"
        ),
        Err(e) => tracing::debug!("the receive buffer of an event socket stays as it is: {e}"),
    }
}

/// Reads datagrams until the intake is closed or dropped, or the task is aborted.
pub(super) async fn serve(
    intake: Weak<Shared>,
    socket: UdpSocket,
    mut closing: watch::Receiver<Option<Instant>>,
    served: Served,
) {
    let Some(max_body) = intake.upgrade().map(|shared| shared.settings.max_body) else {
        return;
    };
    // One byte more than the largest body accepted tells a datagram too large.
    let mut buffer = vec![0; max_body.saturating_add(1).min(LARGEST_DATAGRAM)];
    let mut logs = Logs::default();
    if let Ok(local) = socket.local_addr() {
        tracing::debug!(%local, "taking events over UDP");
    }
    loop {
        if closing.borrow_and_update().is_some() {
            break;
        }
        tokio::select! {
            biased;
            changed = closing.changed() => {
                if changed.is_err() {
                    break;
                }
                continue;
            }
            ready = socket.readable() => {
                if let Err(e) = ready {
                    tracing::warn!("the event socket cannot be read any more: {e}");
                    break;
                }
            }
        }
        let Some(shared) = intake.upgrade() else {
            break;
        };
        let events = Events { shared };
        let mut read = 0;
        while read < BATCH {
            match socket.try_recv_from(&mut buffer) {
                Ok((size, peer)) => {
                    read += 1;
                    let datagram = buffer.get(..size).unwrap_or_default();
                    let taken = events.submit(datagram, EventSource::Udp(peer));
                    Counters::add(&events.shared.counters.udp_datagrams);
                    if let Err(rejected) = taken {
                        if matches!(rejected, Rejected::Closed) {
                            return;
                        }
                        logs.rejected(&rejected, peer);
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                // An ICMP error about an earlier datagram of the socket's, on some systems:
                // nothing to do with what comes next.
                Err(e) => {
                    read += 1;
                    logs.error.warn("an event socket", &e.to_string());
                }
            }
        }
        drop(events);
        if read == BATCH {
            tokio::task::yield_now().await;
        }
    }
    drop(served);
}

/// The rate limits of the loop's logs, one per kind of trouble.
#[derive(Debug, Default)]
struct Logs {
    malformed: Limited,
    too_large: Limited,
    full: Limited,
    error: Limited,
}

impl Logs {
    fn rejected(&mut self, rejected: &Rejected, peer: std::net::SocketAddr) {
        let detail = format!("from {peer}: {rejected}");
        match rejected {
            Rejected::Malformed(_) => self.malformed.debug("a malformed event datagram", &detail),
            Rejected::TooLarge { .. } => {
                self.too_large.debug("an event datagram too large", &detail)
            }
            _ => self.full.warn("an event datagram dropped", &detail),
        }
    }
}
