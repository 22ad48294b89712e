//! The server pool: configured URLs plus servers the cluster announces, tried in turn.

use crate::addr::ServerAddr;
use crate::rng::Rng;

struct Entry {
    addr: ServerAddr,
    /// `host:port`, the key for de-duplication and lame-duck marks.
    key: String,
    /// In lame duck mode when last heard of: tried only when nothing else is left.
    lame: bool,
    /// Announced by the cluster rather than configured.
    discovered: bool,
    /// A connection to it succeeded at least once.
    connected_before: bool,
    /// Failed attempts since the last success.
    failed_attempts: u32,
    /// Why the last attempt failed.
    last_error: Option<String>,
}

impl Entry {
    fn new(addr: ServerAddr, key: String, discovered: bool) -> Entry {
        Entry {
            addr,
            key,
            lame: false,
            discovered,
            connected_before: false,
            failed_attempts: 0,
            last_error: None,
        }
    }

    fn status(&self) -> ServerStatus {
        ServerStatus {
            url: self.addr.to_string(),
            discovered: self.discovered,
            connected_before: self.connected_before,
            failed_attempts: self.failed_attempts,
            last_error: self.last_error.clone(),
            lame_duck: self.lame,
        }
    }
}

/// The server a client is connected to; see
/// [`Client::current_server`](crate::Client::current_server).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CurrentServer {
    /// `nats://host:port` or `tls://host:port`, as in the pool.
    pub url: String,
    /// The server's id (INFO `server_id`).
    pub server_id: String,
    /// The server's name (INFO `server_name`).
    pub server_name: String,
    /// The server's version.
    pub version: String,
    /// The cluster it belongs to, if any.
    pub cluster: Option<String>,
}

/// One server of the client's pool and what the client knows of it; see
/// [`Client::servers`](crate::Client::servers).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerStatus {
    /// `nats://host:port` or `tls://host:port` (never with credentials).
    pub url: String,
    /// Announced by the cluster (INFO `connect_urls`) rather than configured.
    pub discovered: bool,
    /// The client was connected to it at least once.
    pub connected_before: bool,
    /// Failed connection attempts since the last successful one.
    pub failed_attempts: u32,
    /// Why the last failed attempt failed.
    pub last_error: Option<String>,
    /// It announced lame duck mode (tried last until another connection succeeds).
    pub lame_duck: bool,
}

/// Servers to connect to, in the order they will be tried.
pub(crate) struct ServerPool {
    entries: Vec<Entry>,
    next: usize,
    rng: Rng,
    retain_order: bool,
    /// Discovered servers use TLS when the configured ones do.
    tls: bool,
    /// `host:port` of the server of the current (or last) connection.
    current: Option<String>,
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
                entries.push(Entry::new(addr, key, false));
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
            current: None,
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
        // To a WebSocket client the server announces its cluster's WebSocket listeners.
        let websocket = self.entries.iter().any(|e| e.addr.is_websocket());
        for url in urls {
            let Ok(mut addr) = ServerAddr::from_discovered(url, self.tls) else {
                continue;
            };
            addr = addr.with_websocket(websocket);
            if let Some(from) = &self.credentials {
                addr = addr.with_credentials_of(from);
            }
            let key = addr.socket_addr_string();
            if self.entries.iter().any(|e| e.key == key) {
                continue;
            }
            added.push(key.clone());
            let entry = Entry::new(addr, key, true);
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
        self.current = Some(key.to_string());
        for e in &mut self.entries {
            if e.key != key {
                e.lame = false;
            } else {
                e.connected_before = true;
                e.failed_attempts = 0;
                e.last_error = None;
            }
        }
    }

    /// The URL of the current (or last) connection's server.
    pub(crate) fn current_url(&self) -> Option<String> {
        let key = self.current.as_deref()?;
        self.entries
            .iter()
            .find(|e| e.key == key)
            .map(|e| e.addr.to_string())
    }

    /// An attempt to connect to `key` failed with `error`.
    pub(crate) fn failed(&mut self, key: &str, error: &str) {
        if let Some(e) = self.entries.iter_mut().find(|e| e.key == key) {
            e.failed_attempts = e.failed_attempts.saturating_add(1);
            e.last_error = Some(error.to_string());
        }
    }

    /// Every server with its state, in the order they will be tried from the start.
    pub(crate) fn statuses(&self) -> Vec<ServerStatus> {
        self.entries.iter().map(Entry::status).collect()
    }

    /// The pool's server whose URL or `host:port` is `server`.
    pub(crate) fn find(&self, server: &str) -> Option<ServerAddr> {
        let key = match server.parse::<ServerAddr>() {
            Ok(addr) => addr.socket_addr_string(),
            Err(_) => server.to_string(),
        };
        self.entries
            .iter()
            .find(|e| e.key == key)
            .map(|e| e.addr.clone())
    }

    /// Replaces the configured servers with `addrs` (not empty), keeping what is known of
    /// those already in the pool. Discovered servers are dropped; the cluster announces
    /// them again on the next connection.
    pub(crate) fn replace(&mut self, addrs: Vec<ServerAddr>) {
        let mut old = std::mem::take(&mut self.entries);
        self.tls = addrs.iter().any(ServerAddr::is_tls);
        self.credentials = addrs.iter().find(|a| a.has_credentials()).cloned();
        for addr in addrs {
            let key = addr.socket_addr_string();
            if self.entries.iter().any(|e| e.key == key) {
                continue;
            }
            let entry = match old.iter().position(|e| e.key == key) {
                Some(i) => {
                    let mut e = old.swap_remove(i);
                    e.addr = addr;
                    e.discovered = false;
                    e
                }
                None => Entry::new(addr, key, false),
            };
            self.entries.push(entry);
        }
        if !self.retain_order {
            self.rng.shuffle(&mut self.entries);
        }
        self.next = 0;
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
    fn state_per_server_and_replacing_the_pool() {
        let mut p = pool(&["nats://a:1", "nats://b:2"], true);
        p.add_discovered(&["c:3".into()]);
        p.failed("a:1", "refused");
        p.failed("a:1", "refused again");
        p.connected_to("b:2");
        let s = p.statuses();
        assert_eq!(s[0].failed_attempts, 2);
        assert_eq!(s[0].last_error.as_deref(), Some("refused again"));
        assert!(s[1].connected_before && s[1].failed_attempts == 0);
        assert!(s[2].discovered && !s[0].discovered);
        assert_eq!(p.find("nats://c:3").unwrap().socket_addr_string(), "c:3");
        assert!(p.find("d:4").is_none());
        p.replace(vec![
            "nats://b:2".parse().unwrap(),
            "nats://d:4".parse().unwrap(),
        ]);
        let s = p.statuses();
        assert_eq!(s.len(), 2);
        assert!(s[0].connected_before, "what was known of b:2 is kept");
        assert_eq!(s[1].url, "nats://d:4");
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
