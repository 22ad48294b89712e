//! Atomic multi-key transactions and snapshots against a real nats-server (2.12+ for
//! ADR-50 batches): all or nothing, conflicts that name the key and its revision, creates
//! over tombstones, `allow_atomic` turned on by the first transaction, and transfers between
//! accounts whose total every snapshot sees unchanged while 16 tasks write.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use common::*;
use gnat_kv::{Config, Operation, Store};

fn num(e: &gnat_kv::Entry) -> i64 {
    e.value_str().unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_of_write_commits_together() {
    let (_s, js, kv) = bucket(Config::new("TX").history(5).allow_transactions(true)).await;
    let r_upd = kv.put("upd", "old").await.unwrap();
    kv.put("del", "x").await.unwrap();
    let r_pur = kv.put("pur", "y").await.unwrap();
    kv.put("gone", "z").await.unwrap();
    kv.delete("gone").await.unwrap();

    let mut tx = kv.transaction();
    tx.put("p", "1")
        .unwrap()
        .create("c", "2")
        .unwrap()
        .update("upd", "new", r_upd)
        .unwrap()
        .delete("del")
        .unwrap()
        .purge_expecting("pur", r_pur)
        .unwrap()
        .create("gone", "back")
        .unwrap();
    assert_eq!(tx.len(), 6);
    let done = within("commit", tx.commit()).await.unwrap();
    assert_eq!(done.revisions.len(), 6);
    assert!(done.revisions.windows(2).all(|w| w[1] == w[0] + 1));
    assert_eq!(done.revision, *done.revisions.last().unwrap());
    assert_eq!(kv.get("p").await.unwrap().as_deref(), Some(&b"1"[..]));
    assert_eq!(kv.get("c").await.unwrap().as_deref(), Some(&b"2"[..]));
    assert_eq!(kv.get("upd").await.unwrap().as_deref(), Some(&b"new"[..]));
    assert_eq!(kv.get("del").await.unwrap(), None);
    assert_eq!(kv.get("pur").await.unwrap(), None);
    assert_eq!(kv.get("gone").await.unwrap().as_deref(), Some(&b"back"[..]));
    // The purge rolled up the key's history; the delete kept it.
    let hist = kv.history("pur").await.unwrap();
    assert_eq!(hist.len(), 1);
    assert_eq!(hist[0].operation, Operation::Purge);
    assert_eq!(kv.history("del").await.unwrap().len(), 2);
    // The revisions are the entries'.
    assert_eq!(
        kv.entry("p").await.unwrap().unwrap().revision,
        done.revisions[0]
    );
    // The stored messages keep their ADR-50 batch headers, the commit marker on the last
    // only: what Store::snapshot relies on to never stop inside a transaction.
    for (i, rev) in done.revisions.iter().enumerate() {
        let m = js.direct_get("KV_TX", *rev).await.unwrap();
        let h = m.headers.expect("batch headers");
        assert!(h.get("Nats-Batch-Id").is_some());
        assert_eq!(
            h.get("Nats-Batch-Sequence"),
            Some((i + 1).to_string().as_str())
        );
        assert_eq!(h.get("Nats-Batch-Commit").is_some(), i == 5);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_expectation_stores_nothing_and_names_the_key() {
    let (_s, js, kv) = bucket(Config::new("TX").allow_transactions(true)).await;
    let ra = kv.put("a", "1").await.unwrap();
    let rb = kv.put("b", "1").await.unwrap();
    let rb2 = kv.put("b", "2").await.unwrap();
    let before = js.stream_info("KV_TX").await.unwrap().state.last_seq;

    let mut tx = kv.transaction();
    tx.update("a", "10", ra).unwrap();
    tx.update("b", "20", rb).unwrap(); // stale
    tx.put("c", "30").unwrap();
    let err = within("commit", tx.commit()).await.unwrap_err();
    assert!(err.is_wrong_last_revision(), "{err:?}");
    let c = err.conflict().expect("conflict");
    assert_eq!((c.key.as_str(), c.revision), ("b", rb2));
    assert!(err.to_string().contains("key b is at revision"), "{err}");
    assert_eq!(
        js.stream_info("KV_TX").await.unwrap().state.last_seq,
        before
    );
    assert_eq!(kv.get("a").await.unwrap().as_deref(), Some(&b"1"[..]));
    assert_eq!(kv.get("c").await.unwrap(), None);

    // A create over a current value: key exists, with its revision.
    let mut tx = kv.transaction();
    tx.put("c", "30").unwrap().create("a", "x").unwrap();
    let err = tx.commit().await.unwrap_err();
    assert!(err.is_key_exists(), "{err:?}");
    assert_eq!(err.conflict().unwrap().revision, ra);
    assert_eq!(kv.get("c").await.unwrap(), None);

    // A key twice, or an invalid key, is refused when added; the rest goes on.
    let mut tx = kv.transaction();
    tx.put("d", "1").unwrap();
    assert!(tx.put("d", "2").is_err());
    assert!(tx.put("bad key", "2").unwrap_err().is_invalid_key());
    assert!(tx.put("_kv.reserved", "2").is_err());
    assert_eq!(tx.len(), 1);
    tx.commit().await.unwrap();
    assert_eq!(kv.get("d").await.unwrap().as_deref(), Some(&b"1"[..]));
    // An empty transaction sends nothing.
    assert_eq!(kv.transaction().commit().await.unwrap().revision, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_transaction_enables_atomic_batches() {
    let (_s, _js, kv) = bucket(Config::new("PLAIN")).await;
    assert!(!kv.config().await.unwrap().allow_transactions);
    let mut tx = kv.transaction();
    tx.put("x", "1").unwrap().put("y", "2").unwrap();
    let done = within("commit", tx.commit()).await.unwrap();
    assert_eq!(done.revisions, vec![1, 2]);
    assert!(kv.config().await.unwrap().allow_transactions);
}

/// 10 accounts holding 1000 in total; 16 tasks move random amounts between random pairs in
/// update-update transactions, retrying on conflict; a reader takes snapshots all along and
/// the sum it sees is always 1000.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transfers_keep_the_total_in_every_snapshot() {
    const ACCOUNTS: usize = 10;
    const TASKS: usize = 16;
    const TRANSFERS: usize = 12;
    let (_s, _js, kv) = bucket(Config::new("BANK").history(3)).await;
    let mut tx = kv.transaction();
    for i in 0..ACCOUNTS {
        tx.create(format!("acct.{i}"), "100").unwrap();
    }
    tx.commit().await.unwrap();

    let done = Arc::new(AtomicBool::new(false));
    let conflicts = Arc::new(AtomicU64::new(0));
    let reader = {
        let kv = kv.clone();
        let done = done.clone();
        tokio::spawn(async move {
            let keys: Vec<String> = (0..ACCOUNTS).map(|i| format!("acct.{i}")).collect();
            let mut samples = 0u32;
            while !done.load(Ordering::Relaxed) || samples < 5 {
                let snap = kv.snapshot().await.unwrap();
                let got = snap.get_many(&keys).await.unwrap();
                let sum: i64 = got.iter().map(|e| num(e.as_ref().unwrap())).sum();
                assert_eq!(sum, 1000, "get_many at revision {}", snap.revision());
                let all = snap.entries_matching("acct.*").await.unwrap();
                assert_eq!(all.len(), ACCOUNTS);
                assert_eq!(
                    all.iter().map(num).sum::<i64>(),
                    1000,
                    "dump at {}",
                    snap.revision()
                );
                assert!(all.iter().all(|e| e.revision <= snap.revision()));
                samples += 1;
            }
            samples
        })
    };
    let mut tasks = Vec::new();
    for t in 0..TASKS {
        let kv = kv.clone();
        let conflicts = conflicts.clone();
        tasks.push(tokio::spawn(async move {
            for n in 0..TRANSFERS {
                let from = (t + n) % ACCOUNTS;
                let to = (t * 3 + n * 7 + 1) % ACCOUNTS;
                let to = if to == from { (to + 1) % ACCOUNTS } else { to };
                let amount = ((t + n) % 5 + 1) as i64;
                loop {
                    let got = kv
                        .get_many([format!("acct.{from}"), format!("acct.{to}")])
                        .await
                        .unwrap();
                    let (a, b) = (got[0].clone().unwrap(), got[1].clone().unwrap());
                    let mut tx = kv.transaction();
                    tx.update(&*a.key, (num(&a) - amount).to_string(), a.revision)
                        .unwrap()
                        .update(&*b.key, (num(&b) + amount).to_string(), b.revision)
                        .unwrap();
                    match tx.commit().await {
                        Ok(_) => break,
                        Err(e) if e.is_wrong_last_revision() => {
                            let c = e.conflict().expect("a conflict names its key");
                            assert!(c.key == *a.key || c.key == *b.key);
                            conflicts.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => panic!("transfer: {e:?}"),
                    }
                }
            }
        }));
    }
    for t in tasks {
        within("transfers", t).await.unwrap();
    }
    done.store(true, Ordering::Relaxed);
    let samples = within("reader", reader).await.unwrap();
    assert!(samples >= 5);
    let final_sum: i64 = kv
        .snapshot()
        .await
        .unwrap()
        .entries()
        .await
        .unwrap()
        .iter()
        .map(num)
        .sum();
    assert_eq!(final_sum, 1000);
    eprintln!(
        "{} transfers, {} conflicts retried, {samples} snapshots",
        TASKS * TRANSFERS,
        conflicts.load(Ordering::Relaxed)
    );
}

async fn fill(kv: &Store, n: usize, value: &str) -> u64 {
    let mut last = 0;
    for chunk in (0..n).collect::<Vec<_>>().chunks(500) {
        let mut tx = kv.transaction();
        for i in chunk {
            tx.put(format!("k.{i:05}"), value.to_string()).unwrap();
        }
        last = tx.commit().await.unwrap().revision;
    }
    last
}

/// 2,500 keys: a snapshot's get_many (three chunks) and full dump (beyond the 1024 keys of
/// one wildcard request) all see the snapshot's values while every key is being overwritten
/// and one deleted concurrently (history 3 keeps the snapshot's values in the stream).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshots_beyond_one_chunk_stay_pinned() {
    const N: usize = 2500;
    let (_s, _js, kv) = bucket(Config::new("BIG").history(3).allow_transactions(true)).await;
    let rev = fill(&kv, N, "old").await;
    let snap = kv.snapshot().await.unwrap();
    assert_eq!(snap.revision(), rev);
    let at = kv.snapshot_at(rev).unwrap();
    let writer = {
        let kv = kv.clone();
        tokio::spawn(async move {
            fill(&kv, N, "new").await;
            kv.delete("k.00001").await.unwrap();
        })
    };
    let keys: Vec<String> = (0..N).map(|i| format!("k.{i:05}")).collect();
    for s in [&snap, &at] {
        let got = s.get_many(&keys).await.unwrap();
        assert_eq!(got.len(), N);
        assert!(got.iter().all(|e| e.as_ref().unwrap().value == "old"));
        let all = s.entries().await.unwrap();
        assert_eq!(all.len(), N);
        assert!(all.iter().all(|e| e.value == "old" && e.revision <= rev));
    }
    within("writer", writer).await.unwrap();
    // After the writes: the old snapshot still sees the old bucket; a new one the new.
    assert_eq!(
        snap.get("k.00001").await.unwrap().as_deref(),
        Some(&b"old"[..])
    );
    assert_eq!(snap.keys().await.unwrap().len(), N);
    // A purge removes a key's history: snapshots from before it no longer see the key.
    kv.purge("k.00002").await.unwrap();
    assert_eq!(snap.get("k.00002").await.unwrap(), None);
    let now = kv.snapshot().await.unwrap();
    assert_eq!(now.get("k.00001").await.unwrap(), None);
    assert_eq!(
        now.get("k.00003").await.unwrap().as_deref(),
        Some(&b"new"[..])
    );
    let keys_now = now.keys().await.unwrap();
    assert_eq!(keys_now.len(), N - 2);
    assert!(!keys_now.contains(&"k.00002".to_string()));
    // A snapshot at an earlier revision of one key.
    let first = kv.snapshot_at(1).unwrap();
    assert_eq!(first.keys().await.unwrap(), vec!["k.00000".to_string()]);
    assert_eq!(kv.snapshot_at(0).unwrap().entries().await.unwrap(), vec![]);
}

/// A nats-py reader (nothing of gnat: STREAM.INFO for the last sequence, then a direct get
/// multi-last pinned with `up_to_seq`) never sees a partial transaction while 16 tasks keep
/// transferring.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nats_py_reader_never_sees_a_partial_transaction() {
    const ACCOUNTS: usize = 10;
    let (server, _js, kv) = bucket(Config::new("PYBANK").history(3)).await;
    let mut tx = kv.transaction();
    for i in 0..ACCOUNTS {
        tx.create(format!("acct.{i}"), "100").unwrap();
    }
    tx.commit().await.unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let commits = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for t in 0..16usize {
        let (kv, stop, commits) = (kv.clone(), stop.clone(), commits.clone());
        tasks.push(tokio::spawn(async move {
            let mut n = 0usize;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let (from, to) = ((t + n) % ACCOUNTS, (t + 3 * n + 1) % ACCOUNTS);
                if from == to {
                    continue;
                }
                let got = kv
                    .get_many([format!("acct.{from}"), format!("acct.{to}")])
                    .await
                    .unwrap();
                let (a, b) = (got[0].clone().unwrap(), got[1].clone().unwrap());
                let mut tx = kv.transaction();
                tx.update(&*a.key, (num(&a) - 1).to_string(), a.revision)
                    .unwrap()
                    .update(&*b.key, (num(&b) + 1).to_string(), b.revision)
                    .unwrap();
                match tx.commit().await {
                    Ok(_) => drop(commits.fetch_add(1, Ordering::Relaxed)),
                    Err(e) if e.is_wrong_last_revision() => {}
                    Err(e) => panic!("transfer: {e:?}"),
                }
            }
        }));
    }
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/interop/nats_py_snapshot_reader.py");
    let url = server.url();
    let out = tokio::task::spawn_blocking(move || {
        gnat_test_support::peer::python_with_nats_py()
            .arg(script)
            .args([url.as_str(), "PYBANK", "acct.*", "1000", "40"])
            .output()
            .expect("run python3")
    })
    .await
    .unwrap();
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        within("transfers", t).await.unwrap();
    }
    assert!(
        out.status.success(),
        "nats-py reader failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).trim()).expect("one JSON line");
    assert_eq!(report["samples"], 40, "{report}");
    assert_eq!(report["bad"], serde_json::json!([]), "{report}");
    assert!(
        report["distinct_revisions"].as_u64().unwrap() >= 2,
        "the reader sampled while transfers were committed: {report}"
    );
    assert!(commits.load(Ordering::Relaxed) > 0);
    eprintln!(
        "nats-py reader: {report}; {} transfers committed",
        commits.load(Ordering::Relaxed)
    );
}

/// A snapshot as of a time: the revision of the last entry stored before it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshots_at_a_time() {
    let (_s, _js, kv) = bucket(Config::new("TIMED").history(5)).await;
    let r1 = kv.put("a", "1").await.unwrap();
    let r2 = kv.put("a", "2").await.unwrap();
    kv.put("b", "x").await.unwrap();
    let second = kv.entry_at("a", r2).await.unwrap().unwrap();
    // At the second put's own time: only what was stored strictly before it.
    let snap = kv.snapshot_at_time(second.created).await.unwrap();
    assert!(
        snap.revision() >= r1 && snap.revision() < r2,
        "{}",
        snap.revision()
    );
    assert_eq!(snap.get("a").await.unwrap().as_deref(), Some(&b"1"[..]));
    assert_eq!(snap.get("b").await.unwrap(), None);
    // After everything: the latest revision.
    let later = gnat_kv::Timestamp::from(
        second.created.to_system_time() + std::time::Duration::from_secs(3600),
    );
    let all = kv.snapshot_at_time(later).await.unwrap();
    assert_eq!(all.revision(), kv.snapshot().await.unwrap().revision());
    assert_eq!(all.keys().await.unwrap(), ["a", "b"]);
}
