//! KV writes in flight when the connection drops (gnat-jetstream's resend with the same
//! `Nats-Msg-Id`): put, create, update and delete whose first attempt was stored but whose ack
//! was lost with the connection each return the revision they were stored under, stored
//! once — a compare-and-set write does not fail as "wrong last revision" on its own first
//! attempt.

mod common;

use std::time::{Duration, Instant};

use gnat_kv::Config;
use gnat_kv::jetstream::Context;
use gnat_kv::jetstream::client::{Backoff, ConnectOptions};
use gnat_test_support::NatsServer;
use gnat_test_support::proxy::Proxy;

#[tokio::test(flavor = "multi_thread")]
async fn kv_writes_whose_ack_was_lost_return_their_one_revision() {
    let server = NatsServer::start_jetstream();
    let proxy = Proxy::start(server.addr());
    let direct = common::context(&server.url()).await;
    gnat_kv::create_bucket(&direct, Config::new("IF").history(10))
        .await
        .unwrap();
    let client = ConnectOptions::new()
        .request_timeout(Duration::from_secs(10))
        .reconnect_backoff(Backoff {
            base: Duration::from_millis(10),
            max: Duration::from_millis(100),
            jitter: Duration::from_millis(10),
        })
        .connect(proxy.url())
        .await
        .unwrap();
    let kv = gnat_kv::bind(&Context::new(client), "IF").await.unwrap();

    let last_seq = || async { direct.stream_info("KV_IF").await.unwrap().state.last_seq };
    for step in 1..=4u64 {
        // Acks take 300 ms through the proxy: time to see the write stored and cut.
        proxy.delay(Duration::from_millis(300));
        let kv2 = kv.clone();
        let write = tokio::spawn(async move {
            match step {
                1 => kv2.put("a", "1").await,
                2 => kv2.create("b", "2").await,
                3 => kv2.update("a", "3", 1).await,
                _ => kv2.delete_expecting("b", 2).await,
            }
        });
        common::eventually("the first attempt is stored", || async {
            (last_seq().await == step).then_some(())
        })
        .await;
        proxy.delay(Duration::ZERO);
        proxy.cut();
        let cut = Instant::now();
        let revision = common::within("the write", write).await.unwrap().unwrap();
        assert!(
            cut.elapsed() < Duration::from_secs(2),
            "{:?}",
            cut.elapsed()
        );
        assert_eq!(revision, step, "step {step}");
        assert_eq!(last_seq().await, step, "step {step} stored once");
    }
    assert_eq!(kv.get("a").await.unwrap().as_deref(), Some(&b"3"[..]));
    assert_eq!(kv.get("b").await.unwrap(), None);
}
