//! Buckets across prefixes and topologies, on real setups: a JetStream domain (spec §6 item
//! 66), an account import with an API prefix (ADR-19), a mirror (item 67) and a sourced
//! bucket (item 68).

mod common;

use common::*;
use gnat_kv::jetstream::Context;
use gnat_kv::{Config, StreamSource};
use gnat_test_support::NatsServer;

/// The subjects the client published to, from the server's protocol trace (`PUB`/`HPUB`
/// lines the server received).
fn published_subjects(server: &NatsServer) -> Vec<String> {
    server
        .log()
        .lines()
        .filter_map(|line| {
            let at = line.find("<<- [")?;
            let mut words = line[at + 5..].split_whitespace();
            match words.next()? {
                "PUB" | "HPUB" => words.next().map(str::to_string),
                _ => None,
            }
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn domain_writes_go_through_the_domain_api_prefix() {
    // Spec §6 item 66. The server maps `$JS.hub.API.$KV.…` to `$KV.…` before any subscriber
    // sees it, so what the client sent is read from the server's protocol trace.
    let server = NatsServer::builder()
        .domain("hub")
        .config("trace: true")
        .start();
    let js = Context::with_domain(client(&server.url()).await, "hub").unwrap();
    let kv = gnat_kv::create_bucket(&js, Config::new("B")).await.unwrap();
    assert_eq!(kv.write_prefix(), "$JS.hub.API.$KV.B.");
    let rev = kv.put("k", "v").await.unwrap();
    let created = kv.create("c", "1").await.unwrap();
    let e = kv.entry("k").await.unwrap().unwrap();
    assert_eq!((e.revision, &e.value[..]), (rev, &b"v"[..]));
    assert_eq!(kv.keys().await.unwrap(), vec!["k", "c"]);
    let subjects = eventually("the trace shows the publishes", || {
        let subjects = published_subjects(&server);
        async move {
            subjects
                .iter()
                .any(|s| s.ends_with(".$KV.B.c"))
                .then_some(subjects)
        }
    })
    .await;
    for expected in [
        "$JS.hub.API.STREAM.CREATE.KV_B",
        "$JS.hub.API.$KV.B.k",
        "$JS.hub.API.$KV.B.c",
        "$JS.hub.API.DIRECT.GET.KV_B.$KV.B.k",
    ] {
        assert!(
            subjects.iter().any(|s| s == expected),
            "{expected} not in {subjects:?}"
        );
    }
    assert!(
        !subjects.iter().any(|s| s.starts_with("$KV.")),
        "{subjects:?}"
    );
    // The values landed in the stream under the plain subjects.
    let last = js.get_last_message("KV_B", "$KV.B.c").await.unwrap();
    assert_eq!((last.sequence, &last.payload[..]), (created, &b"1"[..]));

    // A mirror whose origin is reached through an API prefix writes through that prefix (its
    // own syncing is the server's business and not waited for here).
    let mirror = gnat_kv::create_bucket(
        &js,
        Config::new("MX").mirror(StreamSource::new("B").external("$JS.hub.API", None)),
    )
    .await
    .unwrap();
    assert_eq!(mirror.write_prefix(), "$JS.hub.API.$KV.B.");
    assert_eq!(mirror.read_prefix(), "$KV.B.");
    let r = mirror.put("via-mirror", "2").await.unwrap();
    let stored = js
        .get_last_message("KV_B", "$KV.B.via-mirror")
        .await
        .unwrap();
    assert_eq!(stored.sequence, r);
}

/// Account `JS` has JetStream and exports its API, the KV subjects, flow control and its
/// inboxes; account `APP` imports them under the prefix `JS.acc` (ADR-19), in pieces that do
/// not overlap, so `JS.acc.$KV.>` maps to `$KV.>` and nothing else.
const ACCOUNTS: &str = r#"
accounts {
  JS: {
    jetstream: enabled
    users: [{user: js, password: js}]
    exports: [
      {service: "$JS.API.>"}
      {service: "$KV.>"}
      {service: "$JS.FC.>"}
      {stream: "_INBOX.>"}
    ]
  }
  APP: {
    users: [{user: app, password: app}]
    imports: [
      {service: {account: JS, subject: "$JS.API.INFO"}, to: "JS.acc.INFO"}
      {service: {account: JS, subject: "$JS.API.STREAM.>"}, to: "JS.acc.STREAM.>"}
      {service: {account: JS, subject: "$JS.API.CONSUMER.>"}, to: "JS.acc.CONSUMER.>"}
      {service: {account: JS, subject: "$JS.API.DIRECT.>"}, to: "JS.acc.DIRECT.>"}
      {service: {account: JS, subject: "$KV.>"}, to: "JS.acc.$KV.>"}
      {service: {account: JS, subject: "$JS.FC.>"}}
      {stream: {account: JS, subject: "_INBOX.>"}}
    ]
  }
}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_prefix_from_another_account() {
    let server = NatsServer::builder()
        .jetstream(true)
        .config(ACCOUNTS)
        .config("trace: true")
        .start();
    let url = |user: &str| format!("nats://{user}:{user}@127.0.0.1:{}", server.port());
    let app = Context::with_prefix(client(&url("app")).await, "JS.acc").unwrap();
    let owner = context(&url("js")).await;

    let kv = gnat_kv::create_bucket(&app, Config::new("B").history(5))
        .await
        .unwrap();
    assert_eq!(kv.write_prefix(), "JS.acc.$KV.B.");
    let r1 = kv.put("k", "v1").await.unwrap();
    let r2 = kv.update("k", "v2", r1).await.unwrap();
    assert!(
        kv.update("k", "v3", r1)
            .await
            .unwrap_err()
            .is_wrong_last_revision()
    );
    assert!(kv.create("k", "x").await.unwrap_err().is_key_exists());
    kv.delete("k").await.unwrap();
    let r4 = kv.create("k", "v4").await.unwrap();
    assert_eq!(kv.get("k").await.unwrap().as_deref(), Some(&b"v4"[..]));
    // Ordered consumers deliver across the account boundary too.
    let history = within("history", kv.history("k")).await.unwrap();
    let revisions: Vec<u64> = history.iter().map(|e| e.revision).collect();
    assert_eq!(revisions, vec![r1, r2, r2 + 1, r4]);
    assert_eq!(kv.keys().await.unwrap(), vec!["k"]);
    let mut watch = kv.watch("k").await.unwrap();
    assert_eq!(next_entry(&mut watch).await.revision, r4);
    assert_eq!(
        next_event(&mut watch).await,
        gnat_kv::WatchEvent::InitialDone
    );
    let r5 = kv.put("k", "v5").await.unwrap();
    assert_eq!(next_entry(&mut watch).await.revision, r5);

    // The bucket lives in account JS, under the plain subjects.
    let owned = gnat_kv::bind(&owner, "B").await.unwrap();
    assert_eq!(owned.get("k").await.unwrap().as_deref(), Some(&b"v5"[..]));
    let subjects = published_subjects(&server);
    assert!(
        subjects.iter().any(|s| s == "JS.acc.$KV.B.k"),
        "{subjects:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mirror_reads_locally_and_writes_to_its_origin() {
    // Spec §6 item 67.
    let (_server, js) = jetstream().await;
    let origin = gnat_kv::create_bucket(&js, Config::new("O").history(3))
        .await
        .unwrap();
    origin.put("a", "1").await.unwrap();
    origin.put("b", "2").await.unwrap();
    let mirror = gnat_kv::create_bucket(&js, Config::new("M").mirror(StreamSource::new("O")))
        .await
        .unwrap();
    let info = js.stream_info("KV_M").await.unwrap();
    assert_eq!(info.config.subjects, None);
    assert_eq!(info.config.mirror_direct, Some(true));
    assert_eq!(info.config.mirror.as_ref().unwrap().name, "KV_O");
    assert_eq!(mirror.write_prefix(), "$KV.O.");
    assert_eq!(mirror.read_prefix(), "$KV.O.");
    // Binding finds the same.
    let bound = gnat_kv::bind(&js, "M").await.unwrap();
    assert_eq!(bound.write_prefix(), "$KV.O.");

    // A write through the mirror lands in the origin ...
    let rev = mirror.put("c", "3").await.unwrap();
    let stored = js.get_last_message("KV_O", "$KV.O.c").await.unwrap();
    assert_eq!((stored.sequence, &stored.payload[..]), (rev, &b"3"[..]));
    // ... and reads from the mirror see it once it caught up.
    let e = eventually("the mirror catches up", || async {
        mirror.entry("c").await.unwrap()
    })
    .await;
    assert_eq!(
        (e.revision, &e.value[..], &*e.bucket),
        (rev, &b"3"[..], "M")
    );
    assert_eq!(e.key, "c");
    assert_eq!(mirror.keys().await.unwrap(), vec!["a", "b", "c"]);
    // Create and update go to the origin too.
    let r = mirror.create("d", "4").await.unwrap();
    mirror.update("d", "5", r).await.unwrap();
    assert!(mirror.create("a", "x").await.unwrap_err().is_key_exists());
    assert_eq!(origin.get("d").await.unwrap().as_deref(), Some(&b"5"[..]));
    // Watching the mirror.
    let mut watch = mirror.watch("d").await.unwrap();
    let e = next_entry(&mut watch).await;
    assert_eq!((e.key.as_ref(), &e.value[..]), ("d", &b"5"[..]));
    assert_eq!(
        next_event(&mut watch).await,
        gnat_kv::WatchEvent::InitialDone
    );
    origin.delete("d").await.unwrap();
    assert_eq!(
        next_entry(&mut watch).await.operation,
        gnat_kv::Operation::Delete
    );
    // The mirror is not listed as a bucket (it captures no subjects).
    assert_eq!(gnat_kv::bucket_names(&js).await.unwrap(), vec!["O"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sourced_bucket_maps_the_origin_keys() {
    // Spec §6 item 68.
    let (_server, js) = jetstream().await;
    let origin = gnat_kv::create_bucket(&js, Config::new("O")).await.unwrap();
    origin.put("x", "1").await.unwrap();
    let other = gnat_kv::create_bucket(&js, Config::new("P")).await.unwrap();
    other.put("p.q", "2").await.unwrap();
    let sourced = gnat_kv::create_bucket(
        &js,
        Config::new("S")
            .source(StreamSource::new("O"))
            .source(StreamSource::new("KV_P").subject_transform("$KV.P.p.>", "$KV.S.from-p.>")),
    )
    .await
    .unwrap();
    let info = js.stream_info("KV_S").await.unwrap();
    assert_eq!(info.config.subjects, Some(vec!["$KV.S.>".to_string()]));
    let sources = info.config.sources.unwrap();
    assert_eq!(sources[0].name, "KV_O");
    assert_eq!(
        sources[0].subject_transforms.as_deref().unwrap(),
        &[gnat_kv::jetstream::SubjectTransform::new(
            "$KV.O.>", "$KV.S.>"
        )]
    );
    assert_eq!(sources[1].name, "KV_P");
    assert_eq!(
        sources[1].subject_transforms.as_ref().unwrap()[0].dest,
        "$KV.S.from-p.>"
    );

    let x = eventually("the source copies x", || async {
        sourced.get("x").await.unwrap()
    })
    .await;
    assert_eq!(&x[..], b"1");
    let q = eventually("the source copies p.q", || async {
        sourced.get("from-p.q").await.unwrap()
    })
    .await;
    assert_eq!(&q[..], b"2");
    // A sourced bucket is writable, locally.
    sourced.put("own", "3").await.unwrap();
    assert_eq!(origin.get("own").await.unwrap(), None);
    origin.put("x", "4").await.unwrap();
    eventually("the source follows updates", || async {
        (sourced.get("x").await.unwrap().as_deref() == Some(&b"4"[..])).then_some(())
    })
    .await;
    let mut keys = sourced.keys().await.unwrap();
    keys.sort();
    assert_eq!(keys, vec!["from-p.q", "own", "x"]);
}
