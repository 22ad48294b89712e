//! A hub-and-leaf topology: a JetStream server with domain `hub` accepting leaf node
//! connections, and a leaf node with its own JetStream domain `leaf` connected to it, both
//! on loopback with ephemeral ports (the leafnode port is reserved before the hub starts, so
//! either side can be restarted on the same ports).

use std::net::TcpListener;
use std::time::{Duration, Instant};

use crate::server::NatsServer;

/// A hub (JetStream domain `hub`) and a leaf node (JetStream domain `leaf`) connected to it.
pub struct HubAndLeaf {
    /// The hub server.
    pub hub: NatsServer,
    /// The leaf node.
    pub leaf: NatsServer,
    leafnode_port: u16,
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
        let leaf = NatsServer::builder()
            .name("leaf")
            .domain("leaf")
            .monitoring(true)
            .config(format!(
                "leafnodes {{ remotes: [ {{ url: \"nats-leaf://127.0.0.1:{leafnode_port}\" }} ] }}"
            ))
            .start();
        let both = HubAndLeaf {
            hub,
            leaf,
            leafnode_port,
        };
        both.wait_connected(Duration::from_secs(20))
            .unwrap_or_else(|e| panic!("the leaf node did not connect: {e}"));
        both
    }

    /// The hub's leafnode port.
    pub fn leafnode_port(&self) -> u16 {
        self.leafnode_port
    }

    /// Waits until the hub reports the leaf connection (`/leafz`).
    pub fn wait_connected(&self, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        loop {
            let leafs = self
                .hub
                .monitor_json("/leafz")
                .ok()
                .and_then(|v| v["leafnodes"].as_u64())
                .unwrap_or(0);
            if leafs >= 1 {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "no leaf connection within {timeout:?}; hub log: {}",
                    self.hub.log_tail()
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
