//! A replicated bucket (R3) on a 3-node cluster: compare-and-set works, create over a fresh
//! tombstone never fails spuriously (the tombstone is looked up on the stream leader), and
//! reads on any node see the values once replicated (spec §5.7: no read-after-write
//! guarantee for direct gets).

mod common;

use common::*;
use gnat_kv::{Config, WatchEvent};
use gnat_test_support::Cluster;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicated_bucket() {
    let cluster = Cluster::start(3);
    let js = context(&cluster.urls().join(",")).await;
    let kv = within("create an R3 bucket", async {
        loop {
            match gnat_kv::create_bucket(&js, Config::new("R3").replicas(3).history(5)).await {
                Ok(kv) => break kv,
                // The meta leader may still be settling.
                Err(e) if e.code().is_some_and(|c| c >= 500) || e.is_timeout() => {}
                Err(e) => panic!("create bucket: {e}"),
            }
        }
    })
    .await;
    assert_eq!(
        kv.status().await.unwrap().stream_info().config.num_replicas,
        Some(3)
    );
    let mut watch = kv.watch_all().await.unwrap();
    assert_eq!(next_event(&mut watch).await, WatchEvent::InitialDone);

    let mut revisions = Vec::new();
    let mut purges = Vec::new();
    for round in 0..20 {
        let created = kv.create("lock", format!("holder {round}")).await.unwrap();
        let e = kv.create("lock", "intruder").await.unwrap_err();
        assert!(e.is_key_exists(), "{e}");
        assert!(matches!(e.err_code(), Some(10071 | 10164)), "{e}");
        let updated = kv.update("lock", "renewed", created).await.unwrap();
        let e = kv.update("lock", "stale", created).await.unwrap_err();
        assert!(e.is_wrong_last_revision(), "{e}");
        let released = if round % 2 == 0 {
            kv.delete_expecting("lock", updated).await.unwrap()
        } else {
            let purged = kv.purge("lock").await.unwrap();
            purges.push(purged);
            purged
        };
        revisions.extend([created, updated, released]);
    }
    // The watcher sees the successful writes in order, without duplicates, up to the last
    // one. It may miss a revision only if a later purge removed it from the stream: a purge
    // is a rollup of the key (ADR-8, `Nats-Rollup: sub`), and the server-side consumer reads
    // each message from the stream when it delivers it, not when it is stored. On a
    // replicated stream that consumer may run on any replica, behind the writes, and then
    // never sees what a rollup already removed (observed: consumer sequences contiguous,
    // stream sequence jumping over the update just before a purge, no reset, no flow
    // control involved). No client can deliver a revision the stream no longer holds.
    let last = *revisions.last().unwrap();
    assert_eq!(purges.last(), Some(&last));
    let mut seen = Vec::new();
    while seen.last() != Some(&last) {
        let revision = next_entry(&mut watch).await.revision;
        assert!(
            revisions.contains(&revision) && seen.last().is_none_or(|p| *p < revision),
            "revision {revision} after {seen:?}; written: {revisions:?}"
        );
        seen.push(revision);
    }
    for r in revisions.iter().filter(|r| !seen.contains(r)) {
        assert!(
            purges.iter().any(|p| p > r),
            "revision {r} missed but no later purge removed it; seen {seen:?}"
        );
    }
    // A write no purge touches is never missed.
    let put = kv.put("value", "v").await.unwrap();
    assert_eq!(next_entry(&mut watch).await.revision, put);
    eventually("every replica answers with the value", || async {
        let mut all = true;
        for _ in 0..6 {
            all &= kv.get("value").await.unwrap().as_deref() == Some(&b"v"[..]);
        }
        all.then_some(())
    })
    .await;
}
