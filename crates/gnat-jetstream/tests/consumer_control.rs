//! Pause/resume, reset (ADR-60) and consumer configuration fields up to nats-server 2.15,
//! against a real server.

mod consumer_support;

use std::time::Duration;

use consumer_support::*;
use gnat_jetstream::{
    ConsumerConfig, DeliverPolicy, FetchOptions, PullConsumer, ResetTo, Timestamp,
};

async fn fetch_seqs(c: &PullConsumer, opts: FetchOptions) -> Vec<(u64, u64)> {
    let mut fetch = c.fetch(opts).await.unwrap();
    let mut out = Vec::new();
    while let Some(m) = within("fetch", fetch.next()).await {
        let m = m.unwrap();
        let i = m.info().unwrap();
        out.push((i.stream_sequence, i.consumer_sequence));
    }
    out
}

fn wait(d: Duration) -> FetchOptions {
    FetchOptions::new(10).expires(d)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_holds_delivery_and_resume_releases_it() {
    let (_server, js) = setup().await;
    create_stream(&js, "S", &["s.>"]).await;
    publish_many(&js, "s.a", 3).await;
    let c = js
        .create_pull_consumer("S", ConsumerConfig::durable("C"))
        .await
        .unwrap();
    let until = Timestamp::from_unix_nanos(Timestamp::now().unix_nanos() + 3_600_000_000_000);
    let state = js.pause_consumer("S", "C", until).await.unwrap();
    assert!(state.paused);
    assert!(state.pause_remaining.unwrap() > Duration::from_secs(3500));
    assert!(js.consumer_info("S", "C").await.unwrap().paused);
    // Paused: a pull waits and gets nothing although three messages are there.
    assert!(
        fetch_seqs(&c, wait(Duration::from_secs(1)))
            .await
            .is_empty()
    );
    let state = js.resume_consumer("S", "C").await.unwrap();
    assert!(!state.paused);
    assert!(!js.consumer_info("S", "C").await.unwrap().paused);
    let got = fetch_seqs(&c, FetchOptions::new(3).expires(Duration::from_secs(5))).await;
    assert_eq!(got.iter().map(|x| x.0).collect::<Vec<_>>(), vec![1, 2, 3]);
    // Created paused through the configuration field.
    let c2 = js
        .create_pull_consumer("S", ConsumerConfig::durable("C2").pause_until(until))
        .await
        .unwrap();
    assert!(c2.cached_info().paused);
    assert!(c2.cached_info().config.pause_until.is_some());
    assert!(
        js.pause_consumer("S", "missing", until)
            .await
            .unwrap_err()
            .is_consumer_not_found()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_to_the_ack_floor_and_to_a_sequence() {
    let (_server, js) = setup().await;
    create_stream(&js, "S", &["s.>"]).await;
    publish_many(&js, "s.a", 6).await;
    let c = js
        .create_pull_consumer("S", ConsumerConfig::durable("C"))
        .await
        .unwrap();
    let mut fetch = c
        .fetch(FetchOptions::new(5).expires(Duration::from_secs(5)))
        .await
        .unwrap();
    let mut msgs = Vec::new();
    while let Some(m) = within("fetch", fetch.next()).await {
        msgs.push(m.unwrap());
    }
    assert_eq!(msgs.len(), 5);
    msgs[0].double_ack().await.unwrap();
    msgs[1].double_ack().await.unwrap();
    // Back to the ack floor: 3, 4, 5 come again, with consumer sequences from 1.
    let reset = js
        .reset_consumer("S", "C", ResetTo::AckFloor)
        .await
        .unwrap();
    assert_eq!(reset.info.name, "C");
    assert_eq!(reset.info.num_ack_pending, 0);
    let got = fetch_seqs(&c, FetchOptions::new(4).expires(Duration::from_secs(5))).await;
    assert_eq!(got, vec![(3, 1), (4, 2), (5, 3), (6, 4)]);
    // To a sequence, backwards.
    let reset = js
        .reset_consumer("S", "C", ResetTo::Sequence(2))
        .await
        .unwrap();
    assert_eq!(reset.reset_seq, 2);
    let got = fetch_seqs(&c, FetchOptions::new(2).expires(Duration::from_secs(5))).await;
    assert_eq!(got, vec![(2, 1), (3, 2)]);
    // Only some deliver policies may be moved to a sequence.
    js.create_pull_consumer(
        "S",
        ConsumerConfig::durable("N").deliver_policy(DeliverPolicy::New),
    )
    .await
    .unwrap();
    let err = js
        .reset_consumer("S", "N", ResetTo::Sequence(1))
        .await
        .unwrap_err();
    assert!(err.api().is_some(), "{err:?}");
    assert!(
        js.reset_consumer("S", "C", ResetTo::Sequence(0))
            .await
            .is_err()
    );
    let err = js
        .reset_consumer("S", "gone", ResetTo::AckFloor)
        .await
        .unwrap_err();
    assert!(err.is_consumer_not_found(), "{err:?}");
}
