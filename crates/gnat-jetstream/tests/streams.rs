//! Stream management against a real nats-server: create/update/conflicts, info, paged names
//! and lists, subject details, purge, configuration round trips, account info, domains.

mod common;

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use gnat_jetstream::{
    Context, DiscardPolicy, ErrorKind, PersistMode, PurgeRequest, Republish, RetentionPolicy,
    StorageType, StoreCompression, StreamConfig, StreamConsumerLimits, StreamSource,
    SubjectTransform,
};
use gnat_test_support::NatsServer;

#[tokio::test(flavor = "multi_thread")]
async fn account_info_reports_level_and_usage() {
    let (_server, js) = common::jetstream().await;
    let before = js.account_info().await.unwrap();
    assert!(before.api.level >= 1, "a 2.11+ server reports an API level");
    assert_eq!(before.streams, 0);
    assert_eq!(before.limits.max_streams, -1);
    assert!(before.domain.is_none());
    js.create_stream(StreamConfig::new("A").storage(StorageType::Memory))
        .await
        .unwrap();
    let after = js.account_info().await.unwrap();
    assert_eq!(after.streams, 1);
    assert!(after.api.total > before.api.total);
}

/// Spec §6 item 25.
#[tokio::test(flavor = "multi_thread")]
async fn create_conflicts_and_updates() {
    let (_server, js) = common::jetstream().await;
    let config = StreamConfig::new("ORDERS")
        .subjects(["orders.>"])
        .storage(StorageType::Memory)
        .max_msgs(100);
    let info = js.create_stream(&config).await.unwrap();
    assert_eq!(info.config.name, "ORDERS");
    assert_eq!(info.config.max_msgs, Some(100));
    assert_eq!(info.state.messages, 0);

    // Identical: accepted.
    js.create_stream(&config).await.unwrap();

    // Different: 10058.
    let changed = config.clone().max_msgs(200);
    let err = js.create_stream(&changed).await.unwrap_err();
    assert!(err.is_stream_name_in_use(), "{err:?}");
    assert_eq!(err.err_code(), Some(10058));

    // Create-or-update updates.
    let info = js.create_or_update_stream(&changed).await.unwrap();
    assert_eq!(info.config.max_msgs, Some(200));
    // ...and creates.
    let info = js
        .create_or_update_stream(StreamConfig::new("OTHER").storage(StorageType::Memory))
        .await
        .unwrap();
    assert_eq!(info.config.subjects, Some(vec!["OTHER".to_string()]));

    // Update of a missing stream.
    let err = js
        .update_stream(StreamConfig::new("MISSING"))
        .await
        .unwrap_err();
    assert!(err.is_stream_not_found(), "{err:?}");

    js.delete_stream("ORDERS").await.unwrap();
    let err = js.delete_stream("ORDERS").await.unwrap_err();
    assert!(err.is_stream_not_found(), "{err:?}");
}

/// Spec §6 item 26 (the stream half).
#[tokio::test(flavor = "multi_thread")]
async fn info_of_missing_stream_is_404_10059() {
    let (_server, js) = common::jetstream().await;
    let err = js.stream_info("NOPE").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Api);
    assert_eq!(err.code(), Some(404));
    assert_eq!(err.err_code(), Some(10059));
    assert!(err.is_not_found() && err.is_stream_not_found());

    // Bad names never reach the server.
    let before = js.account_info().await.unwrap().api.total;
    for bad in ["", "a.b", "a b", "a*", "a>", "a/b"] {
        let err = js.stream_info(bad).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{bad:?}");
        let err = js.create_stream(StreamConfig::new(bad)).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{bad:?}");
    }
    let after = js.account_info().await.unwrap().api.total;
    assert_eq!(after, before + 1, "only the second INFO was an API call");
}

fn assert_subset(sent: &StreamConfig, got: &StreamConfig) {
    // Every field we set comes back as sent; the server adds its own metadata keys.
    let mut got = got.clone();
    if let (Some(want), Some(have)) = (&sent.metadata, &mut got.metadata) {
        for (k, v) in want {
            assert_eq!(have.get(k), Some(v), "metadata {k}");
        }
        have.retain(|k, _| want.contains_key(k));
    }
    let sent_json = serde_json::to_value(sent).unwrap();
    let got_json = serde_json::to_value(&got).unwrap();
    for (field, value) in sent_json.as_object().unwrap() {
        assert_eq!(
            got_json.get(field),
            Some(value),
            "field {field} of {}",
            sent.name
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn configuration_round_trips() {
    let (_server, js) = common::jetstream().await;
    let big = StreamConfig::new("BIG")
        .description("every knob")
        .subjects(["big.>"])
        .retention(RetentionPolicy::Limits)
        .max_consumers(10)
        .max_msgs(1000)
        .max_bytes(1 << 20)
        .max_age(Duration::from_secs(3600))
        .max_msgs_per_subject(5)
        .max_msg_size(4096)
        .discard(DiscardPolicy::New)
        .discard_new_per_subject(true)
        .storage(StorageType::File)
        .num_replicas(1)
        .duplicate_window(Duration::from_secs(30))
        .compression(StoreCompression::S2)
        .first_seq(100)
        .subject_transform(SubjectTransform::new("big.>", "big.moved.>"))
        .republish(Republish {
            src: Some("big.>".into()),
            dest: "repub.>".into(),
            headers_only: Some(true),
        })
        .allow_direct(true)
        .mirror_direct(false)
        .deny_delete(true)
        .deny_purge(false)
        .allow_rollup_hdrs(true)
        .consumer_limits(StreamConsumerLimits {
            inactive_threshold: Some(Duration::from_millis(30_500)),
            max_ack_pending: Some(100),
        })
        .allow_msg_ttl(true)
        .subject_delete_marker_ttl(Duration::from_millis(5_250))
        .allow_atomic(true)
        .allow_batched(true)
        .metadata_entry("team", "orders")
        .metadata_entry("tier", "gold");
    let counters = StreamConfig::new("COUNTERS")
        .subjects(["cnt.>"])
        .allow_msg_counter(true)
        .persist_mode(PersistMode::Async);
    let schedules = StreamConfig::new("SCHED")
        .subjects(["sched.>"])
        .storage(StorageType::Memory)
        .allow_msg_schedules(true)
        .allow_rollup_hdrs(true)
        .sealed(false)
        .no_ack(true);
    let sourced = StreamConfig::new("SOURCED")
        .storage(StorageType::Memory)
        .source(
            StreamSource::new("BIG")
                .start_seq(100)
                .subject_transform("big.moved.>", "from.big.>"),
        )
        .source(StreamSource::new("SCHED").filter_subject("sched.a"));
    let mirror = StreamConfig::new("MIRROR")
        .storage(StorageType::Memory)
        .mirror(StreamSource::new("BIG"))
        .mirror_direct(true);

    for config in [&big, &counters, &schedules, &sourced, &mirror] {
        let info = js.create_stream(config).await.unwrap();
        assert_subset(config, &info.config);
        // What the server reports is a complete configuration: sending it back as an
        // update changes nothing, and a create with it is "identical".
        let again = js.update_stream(&info.config).await.unwrap();
        assert_eq!(again.config, info.config, "{}", config.name);
        js.create_stream(&info.config).await.unwrap();
        assert_eq!(
            js.stream_info(&config.name).await.unwrap().config,
            info.config
        );
    }
    let info = js.stream_info("BIG").await.unwrap();
    assert_eq!(info.state.first_seq, 100);
    let metadata: HashMap<String, String> = info.config.metadata.unwrap();
    assert_eq!(metadata["team"], "orders");
    let info = js.stream_info("SOURCED").await.unwrap();
    let names: BTreeSet<&str> = info.sources.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, BTreeSet::from(["BIG", "SCHED"]));
    let info = js.stream_info("MIRROR").await.unwrap();
    assert_eq!(info.mirror.map(|m| m.name), Some("BIG".to_string()));
}

/// Spec §6 item 31 with more streams than one page holds: the names API pages by 1024, the
/// list API by 256.
#[tokio::test(flavor = "multi_thread")]
async fn names_and_lists_page_to_the_end() {
    let (_server, js) = common::jetstream().await;
    let n = 1100;
    for i in 0..n {
        js.create_stream(
            StreamConfig::new(format!("S{i:04}"))
                .subjects([format!("names.{i}")])
                .storage(StorageType::Memory),
        )
        .await
        .unwrap();
    }
    let names = js.stream_names().await.unwrap();
    assert_eq!(names.len(), n, "each name exactly once");
    let unique: BTreeSet<&String> = names.iter().collect();
    assert_eq!(unique.len(), n);
    let want: BTreeSet<String> = (0..n).map(|i| format!("S{i:04}")).collect();
    assert_eq!(unique.into_iter().cloned().collect::<BTreeSet<_>>(), want);

    let infos = js.streams().await.unwrap();
    assert_eq!(infos.len(), n);
    let listed: BTreeSet<String> = infos.into_iter().map(|i| i.config.name).collect();
    assert_eq!(listed, want);

    assert_eq!(
        js.stream_names_matching("names.7").await.unwrap(),
        vec!["S0007".to_string()]
    );
    assert_eq!(js.stream_names_matching("names.*").await.unwrap().len(), n);
    assert_eq!(js.streams_matching("names.>").await.unwrap().len(), n);
    assert!(
        js.stream_names_matching("elsewhere.>")
            .await
            .unwrap()
            .is_empty()
    );
    let err = js.stream_names_matching("bad subject").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
}

#[tokio::test(flavor = "multi_thread")]
async fn info_with_subject_details() {
    let (_server, js) = common::jetstream().await;
    js.create_stream(
        StreamConfig::new("SUBJ")
            .subjects(["sub.>"])
            .storage(StorageType::Memory),
    )
    .await
    .unwrap();
    let mut publisher = js.publisher(256).await.unwrap();
    for i in 0..3000u32 {
        publisher
            .send(format!("sub.{}.{i}", i % 30), "x")
            .await
            .unwrap();
    }
    for i in 0..10u32 {
        publisher
            .send(format!("sub.{}.{i}", i % 30), "again")
            .await
            .unwrap();
    }
    publisher.finish().await.unwrap();

    let plain = js.stream_info("SUBJ").await.unwrap();
    assert!(plain.state.subjects.is_none());
    assert_eq!(plain.state.num_subjects, 3000);

    let info = js.stream_info_with_subjects("SUBJ", ">").await.unwrap();
    let subjects = info.state.subjects.unwrap();
    assert_eq!(subjects.len(), 3000);
    assert_eq!(subjects["sub.0.0"], 2);
    assert_eq!(subjects["sub.29.2999"], 1);
    assert_eq!(subjects.values().sum::<u64>(), 3010);
    assert_eq!(info.state.messages, 3010);

    let some = js
        .stream_info_with_subjects("SUBJ", "sub.7.*")
        .await
        .unwrap();
    let subjects = some.state.subjects.unwrap();
    assert_eq!(subjects.len(), 100);
    assert!(subjects.keys().all(|s| s.starts_with("sub.7.")));

    let none = js
        .stream_info_with_subjects("SUBJ", "other.>")
        .await
        .unwrap();
    assert_eq!(none.state.subjects.map(|s| s.len()), Some(0));
}

async fn messages(js: &Context, stream: &str) -> u64 {
    js.stream_info(stream).await.unwrap().state.messages
}

#[tokio::test(flavor = "multi_thread")]
async fn purge_with_filter_keep_and_seq() {
    let (_server, js) = common::jetstream().await;
    js.create_stream(
        StreamConfig::new("P")
            .subjects(["p.>"])
            .storage(StorageType::Memory),
    )
    .await
    .unwrap();
    for i in 0..10 {
        js.publish("p.a", format!("a{i}")).await.unwrap(); // seqs 1,3,5,…,19
        js.publish("p.b", format!("b{i}")).await.unwrap(); // seqs 2,4,…,20
    }
    assert_eq!(messages(&js, "P").await, 20);

    // Keep the last 3 on p.a.
    let purged = js
        .purge_stream("P", PurgeRequest::new().filter("p.a").keep(3))
        .await
        .unwrap();
    assert_eq!(purged, 7);
    assert_eq!(js.get_last_message("P", "p.a").await.unwrap().sequence, 19);
    assert!(js.get_message("P", 1).await.unwrap_err().is_no_message());

    // Everything on p.b below sequence 10.
    let purged = js
        .purge_stream("P", PurgeRequest::new().filter("p.b").seq(10))
        .await
        .unwrap();
    assert_eq!(purged, 4); // 2, 4, 6, 8
    assert_eq!(messages(&js, "P").await, 9);

    // Everything below 16, any subject.
    let purged = js
        .purge_stream("P", PurgeRequest::new().seq(16))
        .await
        .unwrap();
    assert_eq!(purged, 4); // 10, 12, 14, 15
    assert_eq!(messages(&js, "P").await, 5);

    let purged = js.purge_stream("P", PurgeRequest::new()).await.unwrap();
    assert_eq!(purged, 5);
    let state = js.stream_info("P").await.unwrap().state;
    assert_eq!(
        (state.messages, state.last_seq, state.first_seq),
        (0, 20, 21)
    );

    let err = js
        .purge_stream("NOPE", PurgeRequest::new())
        .await
        .unwrap_err();
    assert!(err.is_stream_not_found());
}

#[tokio::test(flavor = "multi_thread")]
async fn domain_context_uses_the_domain_prefix() {
    let server = NatsServer::builder().jetstream(true).domain("hub").start();
    let plain = common::context(&server.url()).await;
    let js = Context::with_domain(plain.client().clone(), "hub").unwrap();
    assert_eq!(js.prefix(), "$JS.hub.API");
    assert_eq!(js.domain(), Some("hub"));
    assert_eq!(js.api_subject("INFO"), "$JS.hub.API.INFO");

    let account = js.account_info().await.unwrap();
    assert_eq!(account.domain.as_deref(), Some("hub"));

    js.create_stream(
        StreamConfig::new("D")
            .subjects(["d.>"])
            .storage(StorageType::Memory)
            .allow_direct(true),
    )
    .await
    .unwrap();
    let ack = js.publish("d.1", "hello").await.unwrap();
    assert_eq!(ack.domain.as_deref(), Some("hub"));
    assert_eq!(ack.seq, 1);
    let msg = js.direct_get_last("D", "d.1").await.unwrap();
    assert_eq!(&msg.payload[..], b"hello");
    let info = js.stream_info("D").await.unwrap();
    assert_eq!(info.domain.as_deref(), Some("hub"));

    // The local prefix reaches the same JetStream.
    assert_eq!(plain.stream_names().await.unwrap(), vec!["D".to_string()]);

    // A wrong domain has no responders.
    let wrong = Context::with_domain(plain.client().clone(), "elsewhere").unwrap();
    let err = wrong.account_info().await.unwrap_err();
    assert!(err.is_no_responders(), "{err:?}");
    assert!(Context::with_domain(plain.client().clone(), "a.b").is_err());
}
