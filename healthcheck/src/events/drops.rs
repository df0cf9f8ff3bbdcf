//! The datagrams the kernel dropped on the serving sockets' receive buffers: on Linux, the `drops`
//! column of `/proc/net/udp` and `/proc/net/udp6`, found by the socket's inode (or, failing that,
//! its local port), read only when the stats are taken. A socket no longer served keeps the count
//! read as it closed.

use std::sync::{Arc, Mutex, PoisonError};

use tokio::net::UdpSocket;

/// The sockets an intake serves, and the drops of those it served.
#[derive(Debug, Default)]
pub(super) struct Sockets {
    list: Arc<Mutex<List>>,
}

#[derive(Debug, Default)]
struct List {
    open: Vec<Socket>,
    /// The drops of the sockets no longer served.
    gone: u64,
    next: u64,
}

#[derive(Debug)]
struct Socket {
    id: u64,
    inode: Option<u64>,
    port: Option<u16>,
    drops: u64,
}

/// A socket being served: when dropped (the loop ended or was aborted, the socket still open),
/// its count is read a last time and kept.
#[derive(Debug)]
pub(super) struct Served {
    list: Arc<Mutex<List>>,
    id: u64,
}

impl Drop for Served {
    fn drop(&mut self) {
        let mut list = self.list.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(table) = table::read() {
            list.update(&table);
        }
        if let Some(at) = list.open.iter().position(|socket| socket.id == self.id) {
            let socket = list.open.swap_remove(at);
            list.gone += socket.drops;
        }
    }
}

impl Sockets {
    /// Starts counting `socket`'s drops.
    pub(super) fn add(&self, socket: &UdpSocket) -> Served {
        let mut list = self.list.lock().unwrap_or_else(PoisonError::into_inner);
        let id = list.next;
        list.next += 1;
        list.open.push(Socket {
            id,
            inode: table::inode(socket),
            port: socket.local_addr().ok().map(|local| local.port()),
            drops: 0,
        });
        Served {
            list: Arc::clone(&self.list),
            id,
        }
    }

    /// The drops of every socket served: `None` off Linux, or when the tables cannot be read
    /// while a socket is served.
    pub(super) fn kernel_drops(&self) -> Option<u64> {
        if !table::AVAILABLE {
            return None;
        }
        let serving = !self
            .list
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .open
            .is_empty();
        // Read without the lock: a loop that ends meanwhile waits for no file.
        let table = if serving { Some(table::read()?) } else { None };
        let mut list = self.list.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(table) = table {
            list.update(&table);
        }
        Some(list.gone + list.open.iter().map(|socket| socket.drops).sum::<u64>())
    }
}

impl List {
    /// Takes the drops of the open sockets from `table`; one not in it has gone.
    fn update(&mut self, table: &[Row]) {
        let mut gone = 0;
        self.open.retain_mut(|socket| {
            let row = match (socket.inode, socket.port) {
                (Some(inode), _) => table.iter().find(|row| row.inode == inode),
                (None, Some(port)) => table.iter().find(|row| row.port == port),
                (None, None) => None,
            };
            match row {
                Some(row) => socket.drops = row.drops,
                None => gone += socket.drops,
            }
            row.is_some()
        });
        self.gone += gone;
    }
}

/// One socket's line in the tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Row {
    port: u16,
    inode: u64,
    drops: u64,
}

/// The rows of `/proc/net/udp` (or `udp6`): after a header line, one line a socket,
/// `sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
/// ref pointer drops`, the address as `hex-ip:hex-port`. Lines that do not read so are skipped.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn rows(text: &str) -> impl Iterator<Item = Row> + '_ {
    text.lines().skip(1).filter_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (_, port) = fields.get(1)?.rsplit_once(':')?;
        Some(Row {
            port: u16::from_str_radix(port, 16).ok()?,
            inode: fields.get(9)?.parse().ok()?,
            drops: fields.get(12)?.parse().ok()?,
        })
    })
}

#[cfg(target_os = "linux")]
mod table {
    use std::os::fd::AsRawFd;

    use super::{Row, UdpSocket, rows};

    pub(super) const AVAILABLE: bool = true;

    /// The socket's inode, from its link in `/proc/self/fd` (`socket:[12345]`).
    pub(super) fn inode(socket: &UdpSocket) -> Option<u64> {
        let link = std::fs::read_link(format!("/proc/self/fd/{}", socket.as_raw_fd())).ok()?;
        link.to_str()?
            .strip_prefix("socket:[")?
            .strip_suffix(']')?
            .parse()
            .ok()
    }

    /// The rows of both tables; `None` when neither can be read. Small files of the kernel's
    /// memory, read at once.
    pub(super) fn read() -> Option<Vec<Row>> {
        let v4 = std::fs::read_to_string("/proc/net/udp");
        // Absent when IPv6 is off.
        let v6 = std::fs::read_to_string("/proc/net/udp6");
        if v4.is_err() && v6.is_err() {
            return None;
        }
        let mut table = Vec::new();
        for text in [v4, v6].into_iter().flatten() {
            table.extend(rows(&text));
        }
        Some(table)
    }
}

#[cfg(not(target_os = "linux"))]
mod table {
    use super::{Row, UdpSocket};

    pub(super) const AVAILABLE: bool = false;

    pub(super) fn inode(_: &UdpSocket) -> Option<u64> {
        None
    }

    pub(super) fn read() -> Option<Vec<Row>> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const UDP: &str = "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops            
  133: 0100007F:A4B1 00000000:0000 07 00000000:00000000 00:00000000 00000000  1000        0 123456 2 0000000000000000 0        
  204: 00000000:0044 00000000:0000 07 00000000:00034500 00:00000000 00000000     0        0 23456 2 0000000000000000 9021     
";

    const UDP6: &str = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  100: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000  1000        0 777 2 0000000000000000 12
garbage
";

    #[test]
    fn the_rows_of_both_tables() {
        assert_eq!(
            rows(UDP).collect::<Vec<_>>(),
            [
                Row {
                    port: 0xA4B1,
                    inode: 123_456,
                    drops: 0
                },
                Row {
                    port: 68,
                    inode: 23_456,
                    drops: 9021
                },
            ]
        );
        assert_eq!(
            rows(UDP6).collect::<Vec<_>>(),
            [Row {
                port: 8080,
                inode: 777,
                drops: 12
            }]
        );
        assert_eq!(rows("").count(), 0);
    }

    #[test]
    fn an_open_socket_takes_its_row_and_one_gone_keeps_its_count() {
        let socket = |id, inode, port, drops| Socket {
            id,
            inode,
            port,
            drops,
        };
        let mut list = List {
            open: vec![
                socket(0, Some(23_456), Some(1), 0),
                socket(1, None, Some(8080), 0),
                socket(2, Some(1), Some(2), 40),
            ],
            gone: 5,
            next: 3,
        };
        let table: Vec<Row> = rows(UDP).chain(rows(UDP6)).collect();
        list.update(&table);
        let open: Vec<_> = list.open.iter().map(|s| (s.id, s.drops)).collect();
        assert_eq!(open, [(0, 9021), (1, 12)]);
        assert_eq!(list.gone, 45);
    }
}
