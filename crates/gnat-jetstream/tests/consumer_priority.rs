//! Priority groups on pulls (ADR-42) against a real server, with several pulling clients:
//! overflow (`min_pending`, `min_ack_pending`), pinned client (`Nats-Pin-Id`, `423`, unpin)
//! and prioritized (`priority`), on fetch, next and consume.

mod consumer_support;

use std::time::Duration;

use consumer_support::*;
use gnat_jetstream::{
    ConsumeOptions, ConsumerConfig, FetchOptions, PriorityOptions, PriorityPolicy, PullConsumer,
};

async fn fetch_seqs(c: &PullConsumer, opts: FetchOptions) -> Vec<u64> {
    let mut fetch = c.fetch(opts).await.unwrap();
    let mut out = Vec::new();
    while let Some(m) = within("fetch", fetch.next()).await {
        let m = m.unwrap();
        out.push(sseq(&m));
        m.ack().await.unwrap();
    }
    out
}

fn jobs() -> PriorityOptions {
    PriorityOptions::group("jobs")
}

fn config(name: &str, policy: PriorityPolicy) -> ConsumerConfig {
    ConsumerConfig::durable(name)
        .priority_groups(["jobs"])
        .priority_policy(policy)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overflow_serves_a_conditional_pull_only_past_its_threshold() {
    let (server, js) = setup().await;
    create_stream(&js, "S", &["s.>"]).await;
    publish_many(&js, "s.a", 10).await;
    js.create_pull_consumer("S", config("C", PriorityPolicy::Overflow))
        .await
        .unwrap();
    let local = js.pull_consumer("S", "C").await.unwrap();
    let remote_js = connect(&server).await;
    let overflow = remote_js.pull_consumer("S", "C").await.unwrap();
    let short = Duration::from_secs(1);
    // 10 pending < 50: the overflow client gets nothing.
    let got = fetch_seqs(
        &overflow,
        FetchOptions::new(5)
            .expires(short)
            .priority(jobs().min_pending(50)),
    )
    .await;
    assert!(got.is_empty(), "{got:?}");
    // The unconditional one does.
    let got = fetch_seqs(&local, FetchOptions::new(5).expires(short).priority(jobs())).await;
    assert_eq!(got, vec![1, 2, 3, 4, 5]);
    // Past the threshold (5 + 60 pending), the overflow client is served too.
    publish_many(&js, "s.a", 60).await;
    let got = fetch_seqs(
        &overflow,
        FetchOptions::new(5)
            .expires(Duration::from_secs(5))
            .priority(jobs().min_pending(50)),
    )
    .await;
    assert_eq!(got, vec![6, 7, 8, 9, 10]);
    // min_ack_pending: served only while enough wait for acks. None do once the acks are in.
    eventually("acks recorded", || async {
        let info = js.consumer_info("S", "C").await.unwrap();
        (info.num_ack_pending == 0).then_some(())
    })
    .await;
    let got = next_seqs(&overflow, jobs().min_ack_pending(3), short).await;
    assert!(got.is_empty(), "{got:?}");
    // Three delivered and not acknowledged: now it is served.
    let mut held = Vec::new();
    let mut fetch = local
        .fetch(FetchOptions::new(3).expires(short).priority(jobs()))
        .await
        .unwrap();
    while let Some(m) = within("unacked", fetch.next()).await {
        held.push(m.unwrap());
    }
    assert_eq!(held.len(), 3);
    let got = next_seqs(&overflow, jobs().min_ack_pending(3), Duration::from_secs(5)).await;
    assert_eq!(got, vec![14]);
    // A pull without the group is refused by the server.
    let err = local
        .fetch(FetchOptions::new(1).expires(short))
        .await
        .unwrap()
        .next()
        .await;
    assert!(matches!(err, Some(Err(_))), "{err:?}");
    assert!(
        local
            .fetch(FetchOptions::new(1).priority(PriorityOptions::group("bad group!")))
            .await
            .is_err()
    );
}

async fn next_seqs(c: &PullConsumer, p: PriorityOptions, expires: Duration) -> Vec<u64> {
    match c
        .next_with(FetchOptions::new(1).expires(expires).priority(p))
        .await
        .unwrap()
    {
        Some(m) => {
            m.ack().await.unwrap();
            vec![sseq(&m)]
        }
        None => Vec::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pinned_client_gets_everything_until_unpinned() {
    let (server, js) = setup().await;
    create_stream(&js, "S", &["s.>"]).await;
    publish_many(&js, "s.a", 20).await;
    js.create_pull_consumer(
        "S",
        config("C", PriorityPolicy::PinnedClient).priority_timeout(Duration::from_secs(60)),
    )
    .await
    .unwrap();
    let a = js.pull_consumer("S", "C").await.unwrap();
    let b_js = connect(&server).await;
    let b = b_js.pull_consumer("S", "C").await.unwrap();
    let short = Duration::from_secs(1);
    // A pulls first and is pinned.
    let got = fetch_seqs(&a, FetchOptions::new(5).expires(short).priority(jobs())).await;
    assert_eq!(got, vec![1, 2, 3, 4, 5]);
    let pin_a = a.pin_id().expect("A is pinned");
    let info = js.consumer_info("S", "C").await.unwrap();
    assert_eq!(
        info.priority_groups[0].pinned_client_id.as_deref(),
        Some(pin_a.as_str())
    );
    // B gets nothing while A holds the pin; A keeps getting everything (next and fetch).
    assert!(
        fetch_seqs(&b, FetchOptions::new(5).expires(short).priority(jobs()))
            .await
            .is_empty()
    );
    assert_eq!(next_seqs(&a, jobs(), short).await, vec![6]);
    assert_eq!(b.pin_id(), None);
    // Unpin: the next puller (B) is pinned with a new id.
    js.unpin_consumer("S", "C", "jobs").await.unwrap();
    let got = fetch_seqs(
        &b,
        FetchOptions::new(3)
            .expires(Duration::from_secs(5))
            .priority(jobs()),
    )
    .await;
    assert_eq!(got, vec![7, 8, 9]);
    let pin_b = b.pin_id().expect("B is pinned");
    assert_ne!(pin_a, pin_b);
    // A still sends its old id: the server answers 423, A drops it and pulls again without
    // one, and (B pinned) gets nothing.
    assert!(
        fetch_seqs(&a, FetchOptions::new(3).expires(short).priority(jobs()))
            .await
            .is_empty()
    );
    assert_eq!(a.pin_id(), None);
    // Consume on the pinned client gets the rest; the other one's consume gets nothing.
    let mut b_stream = b
        .consume(ConsumeOptions::new().max_messages(5).priority(jobs()))
        .await
        .unwrap();
    let mut a_stream = a
        .consume(ConsumeOptions::new().max_messages(5).priority(jobs()))
        .await
        .unwrap();
    for want in 10..=20 {
        let m = next_ok(&mut b_stream).await;
        assert_eq!(sseq(&m), want);
        m.ack().await.unwrap();
    }
    let nothing = tokio::time::timeout(Duration::from_millis(1500), a_stream.next()).await;
    assert!(nothing.is_err(), "A got {nothing:?} while B is pinned");
    assert_eq!(b.pin_id(), Some(pin_b));
    assert!(js.unpin_consumer("S", "C", "nope").await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prioritized_serves_the_lowest_priority_value_first() {
    let (server, js) = setup().await;
    create_stream(&js, "S", &["s.>"]).await;
    js.create_pull_consumer("S", config("C", PriorityPolicy::Prioritized))
        .await
        .unwrap();
    let low_js = connect(&server).await;
    let high = js.pull_consumer("S", "C").await.unwrap();
    let low = low_js.pull_consumer("S", "C").await.unwrap();
    // Both wait before anything is stored; priority 0 is served first.
    let mut low_fetch = low
        .fetch(
            FetchOptions::new(5)
                .expires(Duration::from_secs(2))
                .priority(jobs().priority(5)),
        )
        .await
        .unwrap();
    let mut high_fetch = high
        .fetch(
            FetchOptions::new(5)
                .expires(Duration::from_secs(5))
                .priority(jobs().priority(0)),
        )
        .await
        .unwrap();
    low_js.client().flush().await.unwrap();
    js.client().flush().await.unwrap();
    eventually("both pulls waiting", || async {
        let info = js.consumer_info("S", "C").await.unwrap();
        (info.num_waiting == 2).then_some(())
    })
    .await;
    publish_many(&js, "s.a", 5).await;
    let mut got_high = Vec::new();
    while let Some(m) = within("high", high_fetch.next()).await {
        got_high.push(sseq(&m.unwrap()));
    }
    let mut got_low = Vec::new();
    while let Some(m) = within("low", low_fetch.next()).await {
        got_low.push(sseq(&m.unwrap()));
    }
    assert_eq!(got_high, vec![1, 2, 3, 4, 5]);
    assert!(got_low.is_empty(), "{got_low:?}");
    // With only the lower priority waiting, it is served.
    publish(&js, "s.a", "x").await;
    assert_eq!(
        next_seqs(&low, jobs().priority(5), Duration::from_secs(5)).await,
        vec![6]
    );
    assert!(
        high.fetch(FetchOptions::new(1).priority(jobs().priority(10)))
            .await
            .is_err()
    );
}
