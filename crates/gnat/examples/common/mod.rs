//! Where the examples find a server: `NATS_URL` if it is set, otherwise a throwaway local
//! `nats-server` (found or installed the way the tests do it, on a free loopback port) that
//! stops when the example ends.

use gnat_test_support::NatsServer;

/// The server an example talks to; a throwaway one is stopped when this is dropped.
pub(crate) struct Server {
    /// The URL to connect to.
    pub(crate) url: String,
    _throwaway: Option<NatsServer>,
}

/// `NATS_URL`, or a throwaway server (with JetStream when `jetstream` is true).
pub(crate) fn server(jetstream: bool) -> Server {
    match std::env::var("NATS_URL") {
        Ok(url) if !url.is_empty() => Server {
            url,
            _throwaway: None,
        },
        _ => {
            let server = if jetstream {
                NatsServer::start_jetstream()
            } else {
                NatsServer::start()
            };
            Server {
                url: server.url(),
                _throwaway: Some(server),
            }
        }
    }
}
