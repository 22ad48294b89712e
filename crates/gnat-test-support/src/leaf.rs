//! A hub-and-leaf topology: a JetStream server with domain `hub` accepting leaf node
//! connections, and a leaf node with its own JetStream domain `leaf` connected to it through
//! a fault [`Proxy`] (so the link can be cut and restored), all on loopback with ephemeral
//! ports (the leafnode port is reserved before the hub starts, so either side can be
//! restarted on the same ports).

use std::net::TcpListener;
use std::time::{Duration, Instant};

use crate::proxy::Proxy;
use crate::server::NatsServer;

/// A hub (JetStream domain `hub`) and a leaf node (JetStream domain `leaf`) connected to it.
pub struct HubAndLeaf {
    /// The hub server.
    pub hub: NatsServer,
    /// The leaf node.
    pub leaf: NatsServer,
    leafnode_port: u16,
    link: Proxy,
}

impl HubAndLeaf {
    /// Starts both and waits (up to 20 s) until the leaf connection is up.
    pub fn start() -> HubAndLeaf {
        let leafnode_port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap_or_else(|e| panic!("cannot reserve a leafnode port on 127.0.0.1: {e}"));
        let hub = NatsServer::builder()
            .name("hub")
            .domain("hub")
            .monitoring(true)
            .config(format!(
                "leafnodes {{ listen: \"127.0.0.1:{leafnode_port}\" }}"
            ))
            .start();
        let link = Proxy::start(std::net::SocketAddr::from(([127, 0, 0, 1], leafnode_port)));
        let link_port = link.port();
        let leaf = NatsServer::builder()
            .name("leaf")
            .domain("leaf")
            .monitoring(true)
            .config(format!(
                "leafnodes {{ remotes: [ {{ url: \"nats-leaf://127.0.0.1:{link_port}\" }} ] }}"
            ))
            .start();
        let both = HubAndLeaf {
            hub,
            leaf,
            leafnode_port,
            link,
        };
        both.wait_connected(Duration::from_secs(20))
            .unwrap_or_else(|e| panic!("the leaf node did not connect: {e}"));
        both
    }

    /// The hub's leafnode port.
    pub fn leafnode_port(&self) -> u16 {
        self.leafnode_port
    }

    /// The proxy the leaf connection goes through.
    pub fn link(&self) -> &Proxy {
        &self.link
    }

    /// Cuts the leaf connection and refuses new ones until [`restore_link`](Self::restore_link),
    /// then waits (up to 20 s) until the hub no longer reports it.
    pub fn cut_link(&self) {
        self.link.refuse_new(true);
        self.link.cut();
        self.wait_leafs(|n| n == 0, Duration::from_secs(20))
            .unwrap_or_else(|e| panic!("the leaf connection stayed up: {e}"));
    }

    /// Lets the leaf reconnect and waits (up to 20 s) until it has.
    pub fn restore_link(&self) {
        self.link.refuse_new(false);
        self.wait_connected(Duration::from_secs(20))
            .unwrap_or_else(|e| panic!("the leaf node did not reconnect: {e}"));
    }

    /// Waits until the hub reports the leaf connection (`/leafz`).
    pub fn wait_connected(&self, timeout: Duration) -> Result<(), String> {
        self.wait_leafs(|n| n >= 1, timeout)
    }

    fn wait_leafs(&self, done: impl Fn(u64) -> bool, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        loop {
            let leafs = self
                .hub
                .monitor_json("/leafz")
                .ok()
                .and_then(|v| v["leafnodes"].as_u64())
                .unwrap_or(0);
            if done(leafs) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "{leafs} leaf connections after {timeout:?}; hub log: {}",
                    self.hub.log_tail()
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
