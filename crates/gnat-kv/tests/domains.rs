//! Buckets across JetStream domains on a real hub-and-leaf topology (a hub with JetStream
//! domain `hub`, a leaf node with its own domain `leaf`, linked through a fault proxy): a
//! bucket bound in the other domain through the leaf; a mirror of a hub bucket in the leaf
//! that reads locally, writes through to the hub and catches up after the link is cut and
//! restored; a leaf bucket sourced from a hub bucket and a leaf bucket (ADR-57 transforms).

mod common;

use common::*;
use gnat_kv::jetstream::Context;
use gnat_kv::{Config, StreamSource};
use gnat_test_support::HubAndLeaf;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bucket_in_the_hub_domain_through_the_leaf() {
    let t = HubAndLeaf::start();
    let on_leaf = client(&t.leaf.url()).await;
    // The hub's JetStream, from a client of the leaf node.
    let hub_js = Context::with_domain(on_leaf.clone(), "hub").unwrap();
    let kv = within(
        "create",
        gnat_kv::create_bucket(&hub_js, Config::new("SHARED")),
    )
    .await
    .unwrap();
    assert_eq!(kv.write_prefix(), "$JS.hub.API.$KV.SHARED.");
    let rev = kv.put("k", "from the leaf").await.unwrap();
    assert_eq!(kv.entry("k").await.unwrap().unwrap().revision, rev);
    // The hub's own clients see it in their (default) domain.
    let at_hub = gnat_kv::bind(&context(&t.hub.url()).await, "SHARED")
        .await
        .unwrap();
    assert_eq!(
        at_hub.get("k").await.unwrap().as_deref(),
        Some(&b"from the leaf"[..])
    );
    // The leaf's own domain does not have it.
    let leaf_js = Context::with_domain(on_leaf, "leaf").unwrap();
    let err = gnat_kv::bind(&leaf_js, "SHARED").await.unwrap_err();
    assert!(err.is_bucket_not_found(), "{err:?}");
    // And a bucket of the leaf domain from a hub client.
    let leaf_from_hub = Context::with_domain(client(&t.hub.url()).await, "leaf").unwrap();
    let local = gnat_kv::create_bucket(&leaf_from_hub, Config::new("EDGE"))
        .await
        .unwrap();
    local.put("sensor", "21.5").await.unwrap();
    let seen_at_leaf = gnat_kv::bind(&context(&t.leaf.url()).await, "EDGE")
        .await
        .unwrap();
    assert_eq!(
        seen_at_leaf.get("sensor").await.unwrap().as_deref(),
        Some(&b"21.5"[..])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leaf_mirror_of_a_hub_bucket_reads_locally_and_writes_through() {
    let t = HubAndLeaf::start();
    let origin = gnat_kv::create_bucket(&context(&t.hub.url()).await, Config::new("ORIGIN"))
        .await
        .unwrap();
    origin.put("a", "1").await.unwrap();
    origin.put("b", "2").await.unwrap();

    let leaf_js = context(&t.leaf.url()).await;
    let mirror = gnat_kv::create_bucket(
        &leaf_js,
        Config::new("LOCAL").mirror(StreamSource::new("ORIGIN").domain("hub")),
    )
    .await
    .unwrap();
    assert_eq!(mirror.read_prefix(), "$KV.ORIGIN.");
    assert_eq!(mirror.write_prefix(), "$JS.hub.API.$KV.ORIGIN.");
    eventually("the mirror catches up", || {
        let mirror = mirror.clone();
        async move { (mirror.get("b").await.unwrap().as_deref() == Some(&b"2"[..])).then_some(()) }
    })
    .await;
    // Reads are served by the leaf's own stream.
    assert!(mirror.uses_direct_get());
    assert_eq!(mirror.stream_name(), "KV_LOCAL");
    // A write through the mirror lands in the hub, and comes back to the mirror.
    let rev = mirror.put("c", "written at the leaf").await.unwrap();
    let at_hub = origin.entry("c").await.unwrap().unwrap();
    assert_eq!(
        (at_hub.revision, &at_hub.value[..]),
        (rev, &b"written at the leaf"[..])
    );
    eventually("the write comes back", || {
        let mirror = mirror.clone();
        async move {
            mirror
                .entry("c")
                .await
                .unwrap()
                .filter(|e| e.revision == rev)
        }
    })
    .await;
    let mut keys = mirror.keys().await.unwrap();
    keys.sort();
    assert_eq!(keys, ["a", "b", "c"]);

    // The link to the hub is cut: the mirror still answers from the leaf; the hub moves on.
    t.cut_link();
    assert_eq!(mirror.get("a").await.unwrap().as_deref(), Some(&b"1"[..]));
    let rev_d = origin.put("d", "while cut").await.unwrap();
    origin.delete("a").await.unwrap();
    assert_eq!(mirror.get("d").await.unwrap(), None);
    // Restored: the mirror catches up with everything it missed.
    t.restore_link();
    eventually("the mirror catches up after the link is back", || {
        let mirror = mirror.clone();
        async move {
            let d = mirror.entry("d").await.unwrap()?;
            let a = mirror.get("a").await.unwrap();
            (d.revision == rev_d && a.is_none()).then_some(())
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leaf_bucket_sourced_from_both_domains() {
    let t = HubAndLeaf::start();
    let hub = gnat_kv::create_bucket(&context(&t.hub.url()).await, Config::new("HUBCFG"))
        .await
        .unwrap();
    hub.put("region", "eu").await.unwrap();
    let leaf_js = context(&t.leaf.url()).await;
    let edge = gnat_kv::create_bucket(&leaf_js, Config::new("EDGECFG"))
        .await
        .unwrap();
    edge.put("sensor.t", "21").await.unwrap();
    // Hub keys keep their names (the default transform); edge keys go under `edge.`.
    let all = gnat_kv::create_bucket(
        &leaf_js,
        Config::new("ALL")
            .source(StreamSource::new("HUBCFG").domain("hub"))
            .source(
                StreamSource::new("KV_EDGECFG")
                    .subject_transform("$KV.EDGECFG.>", "$KV.ALL.edge.>"),
            ),
    )
    .await
    .unwrap();
    eventually("both sources arrive", || {
        let all = all.clone();
        async move {
            let mut keys = all.keys().await.unwrap();
            keys.sort();
            (keys == ["edge.sensor.t", "region"]).then_some(())
        }
    })
    .await;
    assert_eq!(
        all.get("region").await.unwrap().as_deref(),
        Some(&b"eu"[..])
    );
    assert_eq!(
        all.get("edge.sensor.t").await.unwrap().as_deref(),
        Some(&b"21"[..])
    );
    // A later write in the hub flows in too.
    hub.put("region", "us").await.unwrap();
    eventually("the update arrives", || {
        let all = all.clone();
        async move { (all.get("region").await.unwrap().as_deref() == Some(&b"us"[..])).then_some(()) }
    })
    .await;
}
