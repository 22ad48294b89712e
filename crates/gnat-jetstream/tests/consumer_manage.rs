//! Consumer management against a real nats-server: the three create actions and their error
//! codes, the create subject forms, multi-filter consumers, info/delete, names and list paging.

mod consumer_support;

use std::collections::HashSet;
use std::time::Duration;

use consumer_support::*;
use gnat_jetstream::{
    AckPolicy, ConsumerConfig, DeliverPolicy, ErrorKind, FetchOptions, ReplayPolicy,
};
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn info_of_a_missing_consumer_is_10014() {
    let (_server, js) = setup().await;
    create_stream(&js, "S", &["s.>"]).await;
    let err = js.consumer_info("S", "nope").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Api);
    assert_eq!(err.code(), Some(404));
    assert_eq!(err.err_code(), Some(10014));
    assert!(err.is_consumer_not_found() && err.is_not_found());

    let err = js.consumer_info("MISSING", "nope").await.unwrap_err();
    assert!(err.is_stream_not_found(), "{err:?}");

    // Delete of a missing consumer is an API error too.
    let err = js.delete_consumer("S", "nope").await.unwrap_err();
    assert!(err.is_consumer_not_found(), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_update_and_strict_create_actions() {
    let (_server, js) = setup().await;
    create_stream(&js, "S", &["s.>"]).await;
    let base = ConsumerConfig::durable("C")
        .description("one")
        .ack_wait(Duration::from_secs(7))
        .max_deliver(3)
        .backoff(vec![Duration::from_secs(1), Duration::from_secs(2)])
        .metadata("owner", "tests");

    // update of a missing consumer: 10149.
    let err = js.update_consumer("S", base.clone()).await.unwrap_err();
    assert_eq!(err.err_code(), Some(10149), "{err:?}");

    // strict create of a new one works, and returns the server's view of the config.
    let info = js.create_consumer_strict("S", base.clone()).await.unwrap();
    assert_eq!((info.stream_name.as_str(), info.name.as_str()), ("S", "C"));
    assert_eq!(info.config.description.as_deref(), Some("one"));
    assert_eq!(info.config.ack_policy, AckPolicy::Explicit);
    // With a backoff list the server takes ack_wait from its first entry.
    assert_eq!(info.config.ack_wait, Some(Duration::from_secs(1)));
    assert_eq!(info.config.max_deliver, Some(3));
    assert_eq!(info.config.backoff.len(), 2);
    assert_eq!(info.config.deliver_policy, DeliverPolicy::All);
    assert_eq!(info.config.replay_policy, ReplayPolicy::Instant);
    assert_eq!(
        info.config.metadata.get("owner").map(String::as_str),
        Some("tests")
    );

    // strict create with the identical config again is fine; with another config: 10148.
    js.create_consumer_strict("S", base.clone()).await.unwrap();
    let err = js
        .create_consumer_strict("S", base.clone().description("two"))
        .await
        .unwrap_err();
    assert_eq!(err.err_code(), Some(10148), "{err:?}");

    // update of an existing one changes it.
    let info = js
        .update_consumer("S", base.clone().description("two"))
        .await
        .unwrap();
    assert_eq!(info.config.description.as_deref(), Some("two"));

    // create-or-update does either.
    let info = js
        .create_consumer("S", base.clone().description("three"))
        .await
        .unwrap();
    assert_eq!(info.config.description.as_deref(), Some("three"));
    let info = js
        .create_consumer("S", ConsumerConfig::durable("D"))
        .await
        .unwrap();
    assert_eq!(info.name, "D");

    // Unnamed: the server names it.
    let info = js
        .create_consumer(
            "S",
            ConsumerConfig::new().inactive_threshold(Duration::from_secs(30)),
        )
        .await
        .unwrap();
    assert!(!info.name.is_empty());
    assert_eq!(
        js.consumer_info("S", &info.name).await.unwrap().name,
        info.name
    );

    // Delete, then it is gone.
    js.delete_consumer("S", "D").await.unwrap();
    assert!(
        js.consumer_info("S", "D")
            .await
            .unwrap_err()
            .is_consumer_not_found()
    );

    // Checked before anything is sent.
    for bad in [
        ConsumerConfig::durable("a.b"),
        ConsumerConfig::durable("a b"),
        ConsumerConfig::new().name("x").durable_name("y"),
        ConsumerConfig::durable("x")
            .filter_subject("s.a")
            .filter_subjects(["s.b"]),
        ConsumerConfig::durable("x").filter_subject("s.a b"),
        ConsumerConfig::durable("x").filter_subject("s.>.a"),
        ConsumerConfig::new().filter_subjects(["s.a", "s..b"]),
        ConsumerConfig::new().filter_subjects(["s.a\r\nPUB x 1"]),
    ] {
        let err = js.create_consumer("S", bad).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
    }
    let err = js
        .update_consumer("S", ConsumerConfig::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    let err = js
        .create_consumer("a.b", ConsumerConfig::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_uses_the_subject_forms_of_the_spec() {
    let (server, js) = setup().await;
    create_stream(&js, "S", &["s.>"]).await;
    // A second connection watches the API requests.
    let spy = connect(&server).await;
    let mut requests = spy
        .client()
        .subscribe("$JS.API.CONSUMER.CREATE.>")
        .await
        .unwrap();
    spy.client().flush().await.unwrap();

    let cases = [
        (
            ConsumerConfig::durable("C1").filter_subject("s.a"),
            "$JS.API.CONSUMER.CREATE.S.C1.s.a",
        ),
        // A wildcard filter cannot be a publish subject here: the named form is used.
        (
            ConsumerConfig::durable("C2").filter_subject("s.*"),
            "$JS.API.CONSUMER.CREATE.S.C2",
        ),
        (
            ConsumerConfig::durable("C3").filter_subjects(["s.a"]),
            "$JS.API.CONSUMER.CREATE.S.C3",
        ),
        (
            ConsumerConfig::durable("C4"),
            "$JS.API.CONSUMER.CREATE.S.C4",
        ),
        (
            ConsumerConfig::new().filter_subject("s.a"),
            "$JS.API.CONSUMER.CREATE.S",
        ),
    ];
    for (config, subject) in cases {
        js.create_consumer("S", config).await.unwrap();
        let req = within("create request", requests.next()).await.unwrap();
        assert_eq!(req.subject.as_str(), subject);
        let body: Value = serde_json::from_slice(&req.payload).unwrap();
        assert_eq!(body["stream_name"], "S");
        assert_eq!(body["action"], "");
        assert!(body["config"].is_object());
    }
    js.create_consumer_strict("S", ConsumerConfig::durable("C5"))
        .await
        .unwrap();
    let req = within("create request", requests.next()).await.unwrap();
    let body: Value = serde_json::from_slice(&req.payload).unwrap();
    assert_eq!(body["action"], "create");
    js.update_consumer("S", ConsumerConfig::durable("C5").description("x"))
        .await
        .unwrap();
    let req = within("create request", requests.next()).await.unwrap();
    let body: Value = serde_json::from_slice(&req.payload).unwrap();
    assert_eq!(body["action"], "update");
    assert_eq!(body["config"]["description"], "x");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_filter_consumers() {
    let (_server, js) = setup().await;
    create_stream(&js, "S", &["s.>"]).await;
    for subject in ["s.a", "s.b.1", "s.c", "s.b.2", "s.d"] {
        publish(&js, subject, subject.to_string()).await;
    }
    let info = js
        .create_consumer(
            "S",
            ConsumerConfig::durable("M").filter_subjects(["s.a", "s.b.*"]),
        )
        .await
        .unwrap();
    assert_eq!(info.config.filter_subjects, vec!["s.a", "s.b.*"]);
    assert_eq!(info.config.filter_subject, None);
    assert_eq!(info.num_pending, 3);

    let consumer = js.pull_consumer("S", "M").await.unwrap();
    let mut batch = consumer
        .fetch(FetchOptions::new(10).no_wait(true))
        .await
        .unwrap();
    let mut got = Vec::new();
    while let Some(m) = within("fetch", batch.next()).await {
        got.push(m.unwrap().subject.to_string());
    }
    assert_eq!(got, vec!["s.a", "s.b.1", "s.b.2"]);

    // Overlapping filters are refused by the server.
    let err = js
        .create_consumer(
            "S",
            ConsumerConfig::durable("O").filter_subjects(["s.>", "s.a"]),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Api, "{err:?}");
    assert_eq!(err.code(), Some(400));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_and_list_page_to_the_end() {
    let (_server, js) = setup().await;
    create_stream(&js, "S", &["s.>"]).await;
    assert!(js.consumer_names("S").await.unwrap().is_empty());
    assert!(js.consumers("S").await.unwrap().is_empty());
    // CONSUMER.LIST pages hold 256 infos: 300 consumers need two pages.
    let n = 300;
    for i in 0..n {
        js.create_consumer(
            "S",
            ConsumerConfig::durable(format!("c{i:03}")).mem_storage(true),
        )
        .await
        .unwrap();
    }
    let names = js.consumer_names("S").await.unwrap();
    assert_eq!(names.len(), n);
    assert_eq!(names.iter().collect::<HashSet<_>>().len(), n);
    let infos = js.consumers("S").await.unwrap();
    assert_eq!(infos.len(), n);
    let listed: HashSet<_> = infos.iter().map(|i| i.name.clone()).collect();
    assert_eq!(listed, names.into_iter().collect::<HashSet<_>>());
    assert!(infos.iter().all(|i| i.stream_name == "S"));
}
