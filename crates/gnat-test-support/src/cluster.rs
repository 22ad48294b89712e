//! [`Cluster`]: an n-node JetStream cluster on loopback.
//!
//! A JetStream cluster member refuses to start without configured routes, so the route ports
//! are chosen before start: we bind n listeners on `127.0.0.1:0`, note the ports the OS gave,
//! close them, and give every member all n route URLs (its own included; the server ignores a
//! route to itself). Any member can then restart and find the others. If another process grabs
//! one of those ports in between, the start fails with "address already in use" and we retry
//! with new ports. Client and monitoring ports are ephemeral (`-1`) and read back.

use std::collections::BTreeSet;
use std::net::TcpListener;
use std::time::Duration;

use crate::builder::ServerBuilder;
use crate::server::NatsServer;
use crate::tempdir::unique_number;

/// How many times [`Cluster::start`] picks new route ports after a port clash.
const PORT_ATTEMPTS: usize = 3;

/// An n-node JetStream cluster on `127.0.0.1`, each node a [`NatsServer`] named `<cluster>-nI`
/// (I from 1) with its own store. Dropping it kills every node.
#[derive(Debug)]
pub struct Cluster {
    name: String,
    servers: Vec<NatsServer>,
}

impl Cluster {
    /// Starts an `n`-node JetStream cluster and waits until it is ready (see
    /// [`wait_ready`](Self::wait_ready)).
    ///
    /// # Panics
    ///
    /// If `n` is 0, or the cluster does not form within [`crate::START_TIMEOUT`] (with every
    /// node's log tail).
    pub fn start(n: usize) -> Cluster {
        Cluster::start_with(n, |_, builder| builder)
    }

    /// Like [`start`](Self::start), with `customize(i, builder)` applied to node `i`'s builder
    /// (already set up for JetStream and the cluster), e.g. to add auth or config to all nodes.
    /// It may be called more than once per node if the start is retried.
    pub fn start_with(
        n: usize,
        mut customize: impl FnMut(usize, ServerBuilder) -> ServerBuilder,
    ) -> Cluster {
        assert!(n > 0, "a cluster needs at least one node");
        let mut attempt = 0;
        loop {
            attempt += 1;
            let name = format!("gnat-{}-{}", std::process::id(), unique_number());
            let ports = reserve_ports(n);
            let mut servers = Vec::with_capacity(n);
            let mut failure = None;
            for (i, &port) in ports.iter().enumerate() {
                let builder = ServerBuilder::new()
                    .jetstream(true)
                    .name(format!("{name}-n{}", i + 1))
                    .cluster(&name, port, ports.clone());
                match customize(i, builder).spawn() {
                    Ok(server) => servers.push(server),
                    Err(e) => {
                        failure = Some(format!("node {i}: {e}"));
                        break;
                    }
                }
            }
            match failure {
                Some(e) if e.contains("address already in use") && attempt < PORT_ATTEMPTS => {
                    continue;
                }
                Some(e) => panic!("cluster {name} did not start: {e}"),
                None => {}
            }
            let cluster = Cluster { name, servers };
            if let Err(e) = cluster.wait_ready(crate::START_TIMEOUT) {
                panic!("{e}");
            }
            return cluster;
        }
    }

    /// The cluster name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The number of nodes (running or not).
    pub fn len(&self) -> usize {
        self.servers.len()
    }

    /// Always false: a cluster has at least one node.
    pub fn is_empty(&self) -> bool {
        self.servers.is_empty()
    }

    /// Every node's client URL, in node order.
    pub fn urls(&self) -> Vec<String> {
        self.servers.iter().map(NatsServer::url).collect()
    }

    /// Node `i` (from 0).
    pub fn server(&self, i: usize) -> &NatsServer {
        &self.servers[i]
    }

    /// Node `i` (from 0), mutably. After restarting a node through this, call
    /// [`wait_ready`](Self::wait_ready) to wait for it to rejoin.
    pub fn server_mut(&mut self, i: usize) -> &mut NatsServer {
        &mut self.servers[i]
    }

    /// All nodes.
    pub fn servers(&self) -> &[NatsServer] {
        &self.servers
    }

    /// Kills node `i` (SIGKILL, store kept).
    pub fn kill(&mut self, i: usize) {
        self.servers[i].kill();
    }

    /// Stops node `i` gracefully (SIGTERM).
    pub fn stop(&mut self, i: usize) {
        self.servers[i].stop();
    }

    /// Starts node `i` again (after [`kill`](Self::kill) or [`stop`](Self::stop)) on the same
    /// ports and store, and waits until the cluster is ready again with it.
    ///
    /// # Panics
    ///
    /// If node `i` is running, or the cluster is not ready within [`crate::START_TIMEOUT`].
    pub fn start_again(&mut self, i: usize) {
        let server = &mut self.servers[i];
        assert!(
            !server.is_running(),
            "start_again: node {i} (pid {}) is still running",
            server.pid()
        );
        if let Err(e) = server.spawn(crate::START_TIMEOUT) {
            panic!("cluster {}: node {i} did not start again: {e}", self.name);
        }
        if let Err(e) = self.wait_ready(crate::START_TIMEOUT) {
            panic!("{e}");
        }
    }

    /// Stops node `i` gracefully if it runs, starts it again on the same ports and store, and
    /// waits until it has rejoined.
    pub fn restart(&mut self, i: usize) {
        self.servers[i].stop();
        self.start_again(i);
    }

    /// The index of the node that is the JetStream meta leader, as the first running node sees
    /// it, if there is one.
    pub fn meta_leader(&self) -> Option<usize> {
        let jsz = self.running().find_map(|s| s.monitor_json("/jsz").ok())?;
        let leader = jsz["meta_cluster"]["leader"].as_str()?;
        self.servers.iter().position(|s| s.name() == Some(leader))
    }

    fn running(&self) -> impl Iterator<Item = &NatsServer> {
        self.servers.iter().filter(|s| s.expected_running())
    }

    /// Polls until every running node is ready (TCP, `INFO`, `/healthz`), has routes to every
    /// other running node, lists their client URLs in `INFO` `connect_urls`, and agrees with the
    /// others on a JetStream meta leader that is running. Nodes that were killed or stopped are
    /// left out.
    pub fn wait_ready(&self, timeout: Duration) -> Result<(), String> {
        crate::probe::wait_for(timeout, || self.check_ready()).map_err(|e| {
            let tails: Vec<String> = self
                .servers
                .iter()
                .enumerate()
                .map(|(i, s)| format!("=== node {i} ===\n{}", s.log_tail()))
                .collect();
            format!("cluster {} not ready: {e}\n{}", self.name, tails.join("\n"))
        })
    }

    fn check_ready(&self) -> Result<(), String> {
        let running: Vec<&NatsServer> = self.running().collect();
        let names: BTreeSet<&str> = running.iter().filter_map(|s| s.name()).collect();
        let mut leaders = BTreeSet::new();
        for server in &running {
            let me = server.name().unwrap_or("?");
            server.probe_ready().map_err(|e| format!("{me}: {e}"))?;
            let routez = server.monitor_json("/routez")?;
            let remotes: BTreeSet<&str> = routez["routes"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|r| r["remote_name"].as_str())
                .collect();
            let missing: Vec<&&str> = names
                .iter()
                .filter(|n| **n != me && !remotes.contains(**n))
                .collect();
            if !missing.is_empty() {
                return Err(format!("{me} has no route to {missing:?} yet"));
            }
            let info = server.info()?;
            let urls: BTreeSet<&str> = info["connect_urls"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|u| u.as_str())
                .collect();
            for other in &running {
                let url = format!("127.0.0.1:{}", other.port());
                if running.len() > 1 && !urls.contains(url.as_str()) {
                    return Err(format!("{me}: INFO connect_urls {urls:?} lacks {url}"));
                }
            }
            let jsz = server.monitor_json("/jsz")?;
            let leader = jsz["meta_cluster"]["leader"].as_str().unwrap_or("");
            if !names.contains(leader) {
                return Err(format!(
                    "{me}: no running meta leader yet (sees {leader:?})"
                ));
            }
            leaders.insert(leader.to_owned());
        }
        if leaders.len() > 1 {
            return Err(format!("nodes disagree on the meta leader: {leaders:?}"));
        }
        Ok(())
    }
}

/// Picks `n` distinct free ports on 127.0.0.1 by binding them all at once, then frees them.
fn reserve_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> = (0..n)
        .map(|_| {
            TcpListener::bind("127.0.0.1:0")
                .unwrap_or_else(|e| panic!("cannot bind a port on 127.0.0.1: {e}"))
        })
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().map(|a| a.port()))
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("local_addr: {e}"))
}
