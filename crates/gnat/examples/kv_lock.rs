//! A distributed lock on a Key-Value bucket: leases with a TTL that the server enforces,
//! kept alive while held, and waiters that proceed when the holder releases.
//!
//! ```text
//! cargo run -p gnat --features kv --example kv_lock
//! ```
//!
//! Uses the server at `NATS_URL` (it needs JetStream 2.11 or newer for per-key TTLs, and no
//! bucket `locks` yet; default: a throwaway local nats-server).

#[path = "common/mod.rs"]
mod common;

use std::time::Duration;

use gnat::kv::{self, Config, LockOptions};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = common::server(true);
    let js = gnat::jetstream::connect(&server.url).await?;
    // Per-key TTLs need limit markers on the bucket.
    let store = kv::create_bucket(
        &js,
        Config::new("locks").limit_marker_ttl(Duration::from_secs(1)),
    )
    .await?;

    // Worker 1 takes the lock for 5 s and keeps it alive every 2 s while it works.
    let lease = store
        .lock(
            "invoice-run",
            LockOptions::new(Duration::from_secs(5)).owner("worker-1"),
        )
        .await?
        .keep_alive_every(Duration::from_secs(2));
    println!(
        "worker-1 holds {} (revision {}, fencing token)",
        lease.key(),
        lease.revision()
    );

    // Worker 2 fails at once without waiting ...
    match store
        .lock("invoice-run", LockOptions::new(Duration::from_secs(5)))
        .await
    {
        Err(e) if e.is_lock_held() => println!("worker-2: held by someone else"),
        other => return Err(format!("expected the lock to be held, got {other:?}").into()),
    }
    // ... or waits, and gets it as soon as worker 1 releases (no polling in between).
    let waiter_store = store.clone();
    let waiter = tokio::spawn(async move {
        let lease = waiter_store
            .lock(
                "invoice-run",
                LockOptions::new(Duration::from_secs(5))
                    .owner("worker-2")
                    .wait(Duration::from_secs(30)),
            )
            .await?;
        println!("worker-2 got it (revision {})", lease.revision());
        lease.release().await
    });

    tokio::time::sleep(Duration::from_millis(300)).await; // "work"
    lease.release().await?;
    println!("worker-1 released");
    waiter.await??;

    kv::delete_bucket(&js, "locks").await?;
    js.client().close().await;
    Ok(())
}
