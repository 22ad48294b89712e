//! The server pool: configured URLs plus servers the cluster announces, tried in turn.

use crate::addr::ServerAddr;
use crate::rng::Rng;

struct Entry {
    addr: ServerAddr,
    /// `host:port`, the key for de-duplication and lame-duck marks.
    key: String,
    /// In lame duck mode when last heard of: tried only when nothing else is left.
    lame: bool,
}

/// Servers to connect to, in the order they will be tried.
pub(crate) struct ServerPool {
    entries: Vec<Entry>,
    next: usize,
    rng: Rng,
    retain_order: bool,
    /// Discovered servers use TLS when the configured ones do.
    tls: bool,
    /// The first configured URL with credentials: discovered servers (whose addresses carry
    /// none) log in with them, as nats.go and nats.c do.
    credentials: Option<ServerAddr>,
}

impl ServerPool {
    pub(crate) fn new(addrs: Vec<ServerAddr>, retain_order: bool) -> Self {
        let tls = addrs.iter().any(ServerAddr::is_tls);
        let credentials = addrs.iter().find(|a| a.has_credentials()).cloned();
        let mut entries: Vec<Entry> = Vec::with_capacity(addrs.len());
        for addr in addrs {
            let key = addr.socket_addr_string();
            if entries.iter().all(|e| e.key != key) {
                entries.push(Entry {
                    addr,
                    key,
                    lame: false,
                });
            }
        }
        let mut rng = Rng::new();
        if !retain_order {
            rng.shuffle(&mut entries);
        }
        ServerPool {
            entries,
            next: 0,
            rng,
            retain_order,
            tls,
            credentials,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// The next server to try: round robin, skipping lame-duck servers while others exist.
    pub(crate) fn next_server(&mut self) -> Option<ServerAddr> {
        let n = self.entries.len();
        if n == 0 {
            return None;
        }
        let all_lame = self.entries.iter().all(|e| e.lame);
        for _ in 0..n {
            let i = self.next % n;
            self.next = (i + 1) % n;
            if all_lame || !self.entries[i].lame {
                return Some(self.entries[i].addr.clone());
            }
        }
        None
    }

    /// Adds announced servers (`host:port`); returns the ones that were new.
    pub(crate) fn add_discovered(&mut self, urls: &[String]) -> Vec<String> {
        let mut added = Vec::new();
        for url in urls {
            let Ok(mut addr) = ServerAddr::from_discovered(url, self.tls) else {
                continue;
            };
            if let Some(from) = &self.credentials {
                addr = addr.with_credentials_of(from);
            }
            let key = addr.socket_addr_string();
            if self.entries.iter().any(|e| e.key == key) {
                continue;
            }
            added.push(key.clone());
            let entry = Entry {
                addr,
                key,
                lame: false,
            };
            if self.retain_order {
                self.entries.push(entry);
            } else {
                let at = self.rng.below(self.entries.len() as u64 + 1) as usize;
                self.entries.insert(at, entry);
            }
        }
        added
    }

    /// Marks `key` (`host:port`) as being in lame duck mode.
    pub(crate) fn mark_lame(&mut self, key: &str) {
        for e in &mut self.entries {
            if e.key == key {
                e.lame = true;
            }
        }
    }

    /// A connection to `key` succeeded: other servers' lame marks are stale by now.
    pub(crate) fn connected_to(&mut self, key: &str) {
        for e in &mut self.entries {
            if e.key != key {
                e.lame = false;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(urls: &[&str], retain: bool) -> ServerPool {
        ServerPool::new(urls.iter().map(|u| u.parse().unwrap()).collect(), retain)
    }

    #[test]
    fn round_robin_in_order_when_retained() {
        let mut p = pool(&["nats://a:1", "nats://b:2", "nats://a:1"], true);
        assert_eq!(p.len(), 2, "duplicates are merged");
        let order: Vec<_> = (0..4)
            .map(|_| p.next_server().unwrap().socket_addr_string())
            .collect();
        assert_eq!(order, ["a:1", "b:2", "a:1", "b:2"]);
    }

    #[test]
    fn lame_servers_are_skipped_until_nothing_else_is_left() {
        let mut p = pool(&["nats://a:1", "nats://b:2"], true);
        p.mark_lame("a:1");
        for _ in 0..4 {
            assert_eq!(p.next_server().unwrap().socket_addr_string(), "b:2");
        }
        p.mark_lame("b:2");
        assert!(p.next_server().is_some(), "all lame: still try them");
        p.connected_to("b:2");
        let seen: Vec<_> = (0..2)
            .map(|_| p.next_server().unwrap().socket_addr_string())
            .collect();
        assert!(seen.contains(&"a:1".to_string()));
    }

    #[test]
    fn discovered_servers_are_added_once() {
        let mut p = pool(&["nats://127.0.0.1:4222"], false);
        let added = p.add_discovered(&["127.0.0.1:4223".into(), "127.0.0.1:4222".into()]);
        assert_eq!(added, ["127.0.0.1:4223"]);
        assert!(p.add_discovered(&["127.0.0.1:4223".into()]).is_empty());
        assert_eq!(p.len(), 2);
    }
}
