//! Typed values against a real nats-server: serde types as JSON, and `update_with`'s
//! compare-and-set loop under 16 concurrent incrementers (no lost update), its bound, and
//! its behaviour over missing and deleted keys.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use common::*;
use gnat_kv::Config;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Profile {
    name: String,
    visits: u64,
    tags: Vec<String>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serde_values_round_trip_as_json() {
    let (_s, _js, kv) = bucket(Config::new("TYPED")).await;
    let profiles = kv.typed::<Profile>();
    let sue = Profile {
        name: "Sue".into(),
        visits: 1,
        tags: vec!["admin".into()],
    };
    let rev = profiles.create("sue", &sue).await.unwrap();
    assert_eq!(profiles.get("sue").await.unwrap(), Some(sue.clone()));
    assert_eq!(profiles.entry("sue").await.unwrap().unwrap().1, rev);
    // Stored as plain JSON, readable by any client.
    let raw: serde_json::Value =
        serde_json::from_slice(&kv.get("sue").await.unwrap().unwrap()).unwrap();
    assert_eq!(raw["name"], "Sue");
    let bumped = Profile { visits: 2, ..sue };
    let rev2 = profiles.update("sue", &bumped, rev).await.unwrap();
    assert!(
        profiles
            .update("sue", &bumped, rev)
            .await
            .unwrap_err()
            .is_wrong_last_revision()
    );
    profiles.put("bob", &Profile::default()).await.unwrap();
    assert_eq!(profiles.get("nobody").await.unwrap(), None);
    // A value that is not a Profile is a decode error naming the key.
    kv.put("junk", "not json").await.unwrap();
    let err = profiles.get("junk").await.unwrap_err();
    assert_eq!(err.kind(), gnat_kv::ErrorKind::Decode);
    assert!(err.to_string().contains("junk"), "{err}");
    assert!(rev2 > rev);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_with_loses_no_update_under_contention() {
    const TASKS: u64 = 16;
    const EACH: u64 = 5;
    let (_s, _js, kv) = bucket(Config::new("CAS")).await;
    let counters = kv.typed::<Profile>().max_attempts(1000);
    let calls = Arc::new(AtomicU32::new(0));
    let mut tasks = Vec::new();
    for _ in 0..TASKS {
        let counters = counters.clone();
        let calls = calls.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..EACH {
                counters
                    .update_with("hits", |old| {
                        calls.fetch_add(1, Ordering::Relaxed);
                        let mut p = old.unwrap_or_default();
                        p.visits += 1;
                        p
                    })
                    .await
                    .unwrap();
            }
        }));
    }
    for t in tasks {
        within("incrementers", t).await.unwrap();
    }
    let (p, rev) = counters.entry("hits").await.unwrap().unwrap();
    assert_eq!(p.visits, TASKS * EACH);
    assert_eq!(
        rev,
        TASKS * EACH,
        "one stored revision per successful update"
    );
    assert!(u64::from(calls.load(Ordering::Relaxed)) >= TASKS * EACH);

    // Over a deleted key: starts from None again.
    kv.delete("hits").await.unwrap();
    let rev = counters
        .update_with("hits", |old| {
            assert!(old.is_none());
            Profile::default()
        })
        .await
        .unwrap();
    assert_eq!(counters.entry("hits").await.unwrap().unwrap().1, rev);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_with_gives_up_after_its_bound() {
    let (_s, _js, kv) = bucket(Config::new("BOUND")).await;
    let typed = kv.typed::<u64>().max_attempts(3);
    typed.put("n", &0).await.unwrap();
    let attempts = AtomicU32::new(0);
    // Every attempt is beaten by a write of another client made inside the closure.
    let other = kv.clone();
    let err = typed
        .update_with("n", |old| {
            attempts.fetch_add(1, Ordering::Relaxed);
            let other = other.clone();
            std::thread::spawn(move || {
                tokio::runtime::Runtime::new()
                    .unwrap()
                    .block_on(other.put("n", "99"))
                    .unwrap()
            })
            .join()
            .unwrap();
            old.unwrap_or_default() + 1
        })
        .await
        .unwrap_err();
    assert!(err.is_wrong_last_revision(), "{err:?}");
    assert_eq!(attempts.load(Ordering::Relaxed), 3);
    assert!(err.to_string().contains("3 attempts"), "{err}");
}
