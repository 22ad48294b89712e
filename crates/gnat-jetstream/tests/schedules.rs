//! Message schedules (ADR-51) against a real nats-server: delivery times within a tolerance
//! (from the times the stream stored the produced messages), cron with a time zone, source,
//! TTL and rollup on produced messages, and schedules that stop when cancelled.

mod common;

use std::time::{Duration, SystemTime};

use gnat_jetstream::{
    Context, PublishOptions, Schedule, StorageType, StoredMessage, StreamConfig, Timestamp,
};

async fn schedule_stream(js: &Context, name: &str, subjects: &[&str]) {
    js.create_stream(
        StreamConfig::new(name)
            .subjects(subjects.iter().copied())
            .storage(StorageType::Memory)
            .allow_msg_schedules(true)
            .allow_msg_ttl(true),
    )
    .await
    .unwrap();
}

/// Every message stored on `subject`, in order.
async fn messages_on(js: &Context, stream: &str, subject: &str) -> Vec<StoredMessage> {
    let mut out = Vec::new();
    let mut from = 1;
    loop {
        match js.get_next_message(stream, from, subject).await {
            Ok(m) => {
                from = m.sequence + 1;
                out.push(m);
            }
            Err(e) if e.is_no_message() => return out,
            Err(e) => panic!("{e:?}"),
        }
    }
}

/// Waits until `subject` holds at least `n` messages and returns them.
async fn wait_for(js: &Context, stream: &str, subject: &str, n: usize) -> Vec<StoredMessage> {
    common::eventually(&format!("{n} messages on {subject}"), || async {
        let got = messages_on(js, stream, subject).await;
        (got.len() >= n).then_some(got)
    })
    .await
}

fn gap(a: &StoredMessage, b: &StoredMessage) -> Duration {
    b.time
        .to_system_time()
        .duration_since(a.time.to_system_time())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_at_schedule_fires_once_near_its_time_and_is_removed() {
    let (_server, js) = common::jetstream().await;
    schedule_stream(&js, "AT", &["sched.>", "orders"]).await;
    let when = SystemTime::now() + Duration::from_secs(2);
    js.schedule("sched.order-1", Schedule::at(when, "orders"), "order 1")
        .await
        .unwrap();
    let fired = wait_for(&js, "AT", "orders", 1).await;
    let produced = fired[0].time.to_system_time();
    let early = when.duration_since(produced).unwrap_or_default();
    let late = produced.duration_since(when).unwrap_or_default();
    assert!(early < Duration::from_millis(100), "fired {early:?} early");
    assert!(late < Duration::from_millis(1500), "fired {late:?} late");
    assert_eq!(&fired[0].payload[..], b"order 1");
    let headers = fired[0].headers.as_ref().unwrap();
    assert_eq!(headers.get("Nats-Scheduler"), Some("sched.order-1"));
    assert_eq!(headers.get("Nats-Schedule-Next"), Some("purge"));
    // The one-shot schedule removed itself.
    common::eventually("the schedule is gone", || async {
        messages_on(&js, "AT", "sched.order-1")
            .await
            .is_empty()
            .then_some(())
    })
    .await;
}

/// `@every 1s` fires about once a second; cancelling it stops it (proved against a second
/// schedule that keeps firing meanwhile).
#[tokio::test(flavor = "multi_thread")]
async fn an_every_schedule_fires_on_its_interval_until_cancelled() {
    let (_server, js) = common::jetstream().await;
    schedule_stream(&js, "EVERY", &["sched.>", "tick.>"]).await;
    let every = Schedule::every(Duration::from_secs(1), "tick.a").unwrap();
    js.schedule("sched.a", every, "tick").await.unwrap();
    let ticks = wait_for(&js, "EVERY", "tick.a", 3).await;
    for pair in ticks.windows(2) {
        let g = gap(&pair[0], &pair[1]);
        assert!(
            g > Duration::from_millis(600) && g < Duration::from_millis(1600),
            "ticks {g:?} apart"
        );
    }
    let sentinel = Schedule::every(Duration::from_secs(1), "tick.sentinel").unwrap();
    js.schedule("sched.sentinel", sentinel, "s").await.unwrap();

    assert!(js.cancel_schedule("EVERY", "sched.a").await.unwrap());
    let after_cancel = messages_on(&js, "EVERY", "tick.a").await.len();
    // The sentinel fires three more times: the cancelled one had as many chances.
    let sentinel_now = messages_on(&js, "EVERY", "tick.sentinel").await.len();
    wait_for(&js, "EVERY", "tick.sentinel", sentinel_now + 3).await;
    assert_eq!(
        messages_on(&js, "EVERY", "tick.a").await.len(),
        after_cancel
    );
    assert!(!js.cancel_schedule("EVERY", "sched.a").await.unwrap());
}

/// A cron schedule in a time zone (every second, so the zone changes nothing but must be
/// accepted), stopped atomically by a publish on its target (ADR-51 `Nats-Scheduler`).
#[tokio::test(flavor = "multi_thread")]
async fn a_cron_schedule_with_a_time_zone_stops_atomically() {
    let (_server, js) = common::jetstream().await;
    schedule_stream(&js, "CRON", &["sched.>", "cron.>"]).await;
    let cron = Schedule::cron("* * * * * *", "cron.out")
        .unwrap()
        .time_zone("America/New_York")
        .unwrap();
    let ack = js.schedule("sched.cron", cron, "c").await.unwrap();
    let fired = wait_for(&js, "CRON", "cron.out", 2).await;
    let g = gap(&fired[0], &fired[1]);
    assert!(g < Duration::from_millis(1600), "{g:?}");
    assert!(
        fired[1]
            .headers
            .as_ref()
            .unwrap()
            .get("Nats-Schedule-Next")
            .is_some()
    );

    // Publish early to the target and stop the schedule, only while it still exists.
    let stop = PublishOptions::new()
        .payload("final")
        .stop_schedule("sched.cron")
        .expected_last_subject_sequence(ack.seq)
        .expected_last_subject_sequence_subject("sched.cron");
    js.publish_with("cron.final", stop).await.unwrap();
    assert!(messages_on(&js, "CRON", "sched.cron").await.is_empty());
    let count = messages_on(&js, "CRON", "cron.out").await.len();
    let sentinel = Schedule::every(Duration::from_secs(1), "cron.sentinel").unwrap();
    js.schedule("sched.sentinel", sentinel, "s").await.unwrap();
    wait_for(&js, "CRON", "cron.sentinel", 2).await;
    assert_eq!(messages_on(&js, "CRON", "cron.out").await.len(), count);

    // The stopping message may not go to the schedule's own subject.
    let err = js
        .publish_with(
            "sched.sentinel",
            PublishOptions::new().stop_schedule("sched.sentinel"),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), gnat_jetstream::ErrorKind::InvalidInput);
}

/// Subject sampling: the schedule publishes the source's last message, with the schedule's
/// TTL and rollup on the produced message.
#[tokio::test(flavor = "multi_thread")]
async fn a_sampling_schedule_sends_the_sources_last_message_with_ttl_and_rollup() {
    let (_server, js) = common::jetstream().await;
    js.create_stream(
        StreamConfig::new("SAMPLE")
            .subjects(["sched.>", "sensor.>"])
            .storage(StorageType::Memory)
            .allow_msg_schedules(true)
            .allow_msg_ttl(true)
            .allow_rollup_hdrs(true),
    )
    .await
    .unwrap();
    js.publish("sensor.raw", "20.5").await.unwrap();
    js.publish("sensor.raw", "21.0").await.unwrap();
    let sample = Schedule::every(Duration::from_secs(1), "sensor.sampled")
        .unwrap()
        .source("sensor.raw")
        .ttl(Duration::from_secs(300))
        .rollup();
    js.schedule("sched.sample", sample, "fallback")
        .await
        .unwrap();
    let got = common::eventually("a sample", || async {
        js.get_last_message("SAMPLE", "sensor.sampled").await.ok()
    })
    .await;
    assert_eq!(&got.payload[..], b"21.0");
    let h = got.headers.as_ref().unwrap();
    assert_eq!(h.get("Nats-TTL"), Some("5m0s"));
    assert_eq!(h.get("Nats-Rollup"), Some("sub"));
    assert_eq!(h.get("Nats-Scheduler"), Some("sched.sample"));
    // Rollup keeps one sample on the target however often it fires.
    let two_more = common::eventually("two more samples", || async {
        let last = js.get_last_message("SAMPLE", "sensor.sampled").await.ok()?;
        (last.sequence > got.sequence + 1).then_some(())
    });
    two_more.await;
    assert_eq!(messages_on(&js, "SAMPLE", "sensor.sampled").await.len(), 1);
    assert!(js.cancel_schedule("SAMPLE", "sched.sample").await.unwrap());
}

#[tokio::test(flavor = "multi_thread")]
async fn streams_without_schedules_refuse_them_with_a_code() {
    let (_server, js) = common::jetstream().await;
    js.create_stream(
        StreamConfig::new("NOSCHED")
            .subjects(["ns.>"])
            .storage(StorageType::Memory),
    )
    .await
    .unwrap();
    let at = Schedule::at(Timestamp::now(), "ns.target");
    let err = js.schedule("ns.s", at, "x").await.unwrap_err();
    assert!(err.is_schedule_error(), "{err:?}");
    assert!(
        js.schedule("ns.same", Schedule::at(Timestamp::now(), "ns.same"), "x")
            .await
            .is_err()
    );
    assert_eq!(js.stream_info("NOSCHED").await.unwrap().state.messages, 0);
}
