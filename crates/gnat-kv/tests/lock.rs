//! Locks, leases and semaphores against a real nats-server: mutual exclusion under
//! contention, waiters that proceed on release, crashed holders that expire, keep-alives
//! that outlast several TTLs, stale leases that can neither renew nor release, and a
//! semaphore that never admits more than its slots.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::*;
use gnat_kv::{Config, LockOptions, Store};

fn locks() -> Config {
    Config::new("LOCKS").limit_marker_ttl(Duration::from_secs(1))
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

async fn counter(kv: &Store) -> u64 {
    kv.get("counter")
        .await
        .unwrap()
        .map_or(0, |v| std::str::from_utf8(&v).unwrap().parse().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lock_keep_alive_release() {
    let (_server, _js, kv) = bucket(locks()).await;
    let lease = kv
        .lock("job", LockOptions::new(secs(10)).owner("worker-1"))
        .await
        .unwrap();
    assert_eq!(lease.key(), "job");
    assert_eq!(lease.ttl(), secs(10));
    assert!(lease.token().starts_with(b"worker-1:"));
    let stored = kv.entry("job").await.unwrap().unwrap();
    assert_eq!(
        (stored.revision, &stored.value),
        (lease.revision(), lease.token())
    );
    assert!(lease.valid_until() > Instant::now() + secs(9));

    // Held: fails at once, and `create` agrees.
    let e = kv
        .lock("job", LockOptions::new(secs(10)))
        .await
        .unwrap_err();
    assert!(e.is_lock_held(), "{e}");
    assert!(kv.create("job", "x").await.unwrap_err().is_key_exists());

    let before = lease.revision();
    let renewed = lease.keep_alive().await.unwrap();
    assert!(renewed > before && lease.revision() == renewed);
    assert_eq!(kv.entry("job").await.unwrap().unwrap().revision, renewed);
    assert!(!lease.is_lost());
    lease.release().await.unwrap();
    assert_eq!(kv.get("job").await.unwrap(), None);

    // Free again, and a different lease gets another token.
    let again = kv.lock("job", LockOptions::new(secs(10))).await.unwrap();
    assert!(again.revision() > renewed);
    again.release().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn needs_ttls_of_whole_seconds_on_a_bucket_with_markers() {
    let (_server, _js, kv) = bucket(Config::new("PLAIN")).await;
    let e = kv.lock("l", LockOptions::new(secs(5))).await.unwrap_err();
    assert!(e.is_ttl_not_allowed(), "{e}");
    assert_eq!(e.err_code(), Some(10166));
    assert!(e.to_string().contains("limit_marker_ttl"), "{e}");
    let e = kv
        .lock("l", LockOptions::new(Duration::from_millis(800)))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), gnat_kv::ErrorKind::InvalidInput, "{e}");
    assert!(
        kv.lock("a b", LockOptions::new(secs(5)))
            .await
            .unwrap_err()
            .is_invalid_key()
    );
    assert!(kv.semaphore("s", 0, secs(5)).is_err());
    assert!(kv.semaphore("s.*", 2, secs(5)).is_err());
    // A 2.9 s TTL is sent as 2 s (the server truncates fractions).
    let (_server, js, kv) = bucket(locks()).await;
    let lease = kv
        .lock("l", LockOptions::new(Duration::from_millis(2900)))
        .await
        .unwrap();
    assert_eq!(lease.ttl(), secs(2));
    let stored = js.get_message("KV_LOCKS", lease.revision()).await.unwrap();
    assert_eq!(stored.headers.unwrap().get("Nats-TTL"), Some("2s"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_exclusion_under_16_contending_tasks() {
    let (_server, _js, kv) = bucket(locks()).await;
    let tasks = 16u64;
    let rounds = 5u64;
    let inside = Arc::new(AtomicBool::new(false));
    let overlaps = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut handles = Vec::new();
    for t in 0..tasks {
        let (kv, inside, overlaps) = (kv.clone(), inside.clone(), overlaps.clone());
        handles.push(tokio::spawn(async move {
            for _ in 0..rounds {
                let lease = kv
                    .lock(
                        "mutex",
                        LockOptions::new(secs(10))
                            .wait_forever()
                            .owner(format!("t{t}")),
                    )
                    .await
                    .unwrap();
                if inside.swap(true, Ordering::SeqCst) {
                    overlaps.fetch_add(1, Ordering::SeqCst);
                }
                // Read, wait, write back: only safe under mutual exclusion.
                let n = counter(&kv).await;
                tokio::time::sleep(Duration::from_millis(3)).await;
                kv.put("counter", (n + 1).to_string()).await.unwrap();
                inside.store(false, Ordering::SeqCst);
                lease.release().await.unwrap();
            }
        }));
    }
    within("16 tasks x 5 critical sections", async {
        for h in handles {
            h.await.unwrap();
        }
    })
    .await;
    assert_eq!(
        overlaps.load(Ordering::SeqCst),
        0,
        "critical sections overlapped"
    );
    assert_eq!(counter(&kv).await, tasks * rounds);
    eprintln!(
        "{} contended acquisitions in {:?}",
        tasks * rounds,
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiters_proceed_on_release_not_on_ttl() {
    let (_server, _js, kv) = bucket(locks()).await;
    let holder = kv.lock("l", LockOptions::new(secs(60))).await.unwrap();
    let waiter = {
        let kv = kv.clone();
        tokio::spawn(async move {
            let lease = kv
                .lock("l", LockOptions::new(secs(60)).wait(secs(30)))
                .await
                .unwrap();
            (lease, Instant::now())
        })
    };
    // It waits while the lock is held.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!waiter.is_finished());
    let released = Instant::now();
    holder.release().await.unwrap();
    let (lease, acquired) = within("the waiter gets the lock", waiter).await.unwrap();
    assert!(
        acquired.duration_since(released) < secs(3),
        "{:?}",
        acquired.duration_since(released)
    );
    assert_eq!(
        kv.entry("l").await.unwrap().unwrap().revision,
        lease.revision()
    );

    // Waiting with a limit fails with "held" once the limit passes.
    let t0 = Instant::now();
    let e = kv
        .lock(
            "l",
            LockOptions::new(secs(60)).wait(Duration::from_millis(1500)),
        )
        .await
        .unwrap_err();
    assert!(e.is_lock_held(), "{e}");
    let waited = t0.elapsed();
    assert!(
        waited >= Duration::from_millis(1500) && waited < secs(5),
        "{waited:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crashed_holder_expires_and_a_stale_lease_can_do_nothing() {
    let (_server, _js, kv) = bucket(locks()).await;
    let ttl = secs(2);
    let crashed = kv.lock("l", LockOptions::new(ttl)).await.unwrap();
    let acquired_at = Instant::now();
    let valid_until = crashed.valid_until();
    // No keep-alive, no release: as if the holder had crashed.
    let taken = within(
        "another holder after the TTL",
        kv.lock("l", LockOptions::new(secs(30)).wait(secs(15))),
    )
    .await
    .unwrap();
    let after = acquired_at.elapsed();
    assert!(
        Instant::now() >= valid_until,
        "taken over {after:?} after acquiring, before the old lease's validity ended"
    );
    assert!(after < ttl + secs(2), "took {after:?} for a {ttl:?} TTL");
    eprintln!("lease with a {ttl:?} TTL taken over after {after:?}");

    // The stale lease can neither renew nor release, and does not disturb the new holder.
    let e = crashed.keep_alive().await.unwrap_err();
    assert!(e.is_lease_lost(), "{e}");
    assert!(crashed.is_lost());
    assert!(crashed.lost().await.is_lease_lost());
    let e = crashed.release().await.unwrap_err();
    assert!(e.is_lease_lost(), "{e}");
    let current = kv.entry("l").await.unwrap().unwrap();
    assert_eq!(
        (current.revision, &current.value),
        (taken.revision(), taken.token())
    );
    taken.keep_alive().await.unwrap();
    taken.release().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_lease_without_keep_alive_is_taken_by_a_waiter() {
    let (_server, _js, kv) = bucket(locks()).await;
    let lease = kv.lock("l", LockOptions::new(secs(1))).await.unwrap();
    let waiter = {
        let kv = kv.clone();
        tokio::spawn(async move { kv.lock("l", LockOptions::new(secs(5)).wait(secs(15))).await })
    };
    let dropped = Instant::now();
    drop(lease);
    let lease = within("waiter after expiry", waiter)
        .await
        .unwrap()
        .unwrap();
    assert!(dropped.elapsed() < secs(4), "{:?}", dropped.elapsed());
    lease.release().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn background_keep_alive_holds_past_several_ttls() {
    let (_server, _js, kv) = bucket(locks()).await;
    let lease = kv
        .lock("l", LockOptions::new(secs(1)))
        .await
        .unwrap()
        .keep_alive_every(Duration::from_millis(300));
    let first = lease.revision();
    let end = Instant::now() + Duration::from_millis(4500);
    let mut attempts = 0;
    while Instant::now() < end {
        let e = kv.lock("l", LockOptions::new(secs(1))).await.unwrap_err();
        assert!(e.is_lock_held(), "{e}");
        attempts += 1;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(attempts >= 10);
    assert!(!lease.is_lost());
    assert!(
        lease.revision() > first + 5,
        "{} renewals",
        lease.revision() - first
    );
    assert!(lease.valid_until() > Instant::now());
    lease.release().await.unwrap();
    assert_eq!(kv.get("l").await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_alive_stops_when_the_lease_is_dropped() {
    let (_server, _js, kv) = bucket(locks()).await;
    let lease = kv
        .lock("l", LockOptions::new(secs(1)))
        .await
        .unwrap()
        .keep_alive_every(Duration::from_millis(200));
    drop(lease);
    // Without the keep-alive it expires.
    let lease = within(
        "lock after the dropped lease expired",
        kv.lock("l", LockOptions::new(secs(5)).wait(secs(15))),
    )
    .await
    .unwrap();
    lease.release().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn semaphore_never_admits_more_than_its_slots() {
    let (_server, _js, kv) = bucket(locks()).await;
    let sem = kv.semaphore("pool", 3, secs(10)).unwrap();
    assert_eq!((sem.name(), sem.slots()), ("pool", 3));
    let holders = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let slots_in_use = Arc::new(std::sync::Mutex::new([false; 3]));
    let mut handles = Vec::new();
    for _ in 0..10 {
        let (sem, holders, most, slots_in_use) = (
            sem.clone(),
            holders.clone(),
            most.clone(),
            slots_in_use.clone(),
        );
        handles.push(tokio::spawn(async move {
            for _ in 0..3 {
                let permit = sem.acquire().await.unwrap();
                let slot = permit.slot() as usize;
                assert!(slot < 3);
                assert!(
                    !std::mem::replace(&mut slots_in_use.lock().unwrap()[slot], true),
                    "slot {slot} given twice"
                );
                let now = holders.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(20)).await;
                holders.fetch_sub(1, Ordering::SeqCst);
                slots_in_use.lock().unwrap()[slot] = false;
                permit.release().await.unwrap();
            }
        }));
    }
    within("10 tasks x 3 permits", async {
        for h in handles {
            h.await.unwrap();
        }
    })
    .await;
    let most = most.load(Ordering::SeqCst);
    assert!((2..=3).contains(&most), "at most {most} holders at once");

    // Full: try_acquire fails at once, a bounded wait fails after it, a release frees one.
    let permits = [
        sem.try_acquire().await.unwrap(),
        sem.try_acquire().await.unwrap(),
        sem.try_acquire().await.unwrap(),
    ];
    let mut slots: Vec<u32> = permits.iter().map(|p| p.slot()).collect();
    slots.sort_unstable();
    assert_eq!(slots, [0, 1, 2]);
    assert!(sem.try_acquire().await.unwrap_err().is_lock_held());
    assert!(
        sem.acquire_timeout(Duration::from_millis(500))
            .await
            .unwrap_err()
            .is_lock_held()
    );
    let waiter = {
        let sem = sem.clone();
        tokio::spawn(async move { sem.acquire_timeout(secs(15)).await })
    };
    let [a, b, c] = permits;
    let freed = b.slot();
    b.release().await.unwrap();
    let p = within("a freed permit", waiter).await.unwrap().unwrap();
    assert_eq!(p.slot(), freed);
    for p in [a, c, p] {
        p.release().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crashed_semaphore_holder_frees_its_slot() {
    let (_server, _js, kv) = bucket(locks()).await;
    let sem = kv.semaphore("one", 1, secs(1)).unwrap();
    let crashed = sem.try_acquire().await.unwrap();
    let t0 = Instant::now();
    drop(crashed);
    let p = within("the slot after expiry", sem.acquire())
        .await
        .unwrap();
    assert!(t0.elapsed() < secs(4), "{:?}", t0.elapsed());
    assert_eq!(p.slot(), 0);
    p.release().await.unwrap();
}
