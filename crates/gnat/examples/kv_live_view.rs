//! A live view: a local copy of (part of) a bucket, kept current in the background, read
//! without a round trip; and read-your-writes with `wait_for_revision`.
//!
//! ```text
//! cargo run -p gnat --features kv --example kv_live_view
//! ```
//!
//! Uses the server at `NATS_URL` (it needs JetStream, and no bucket `config` yet; default: a
//! throwaway local nats-server).

#[path = "common/mod.rs"]
mod common;

use gnat::kv::{self, Config};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = common::server(true);
    let js = gnat::jetstream::connect(&server.url).await?;
    let store = kv::create_bucket(&js, Config::new("config")).await?;
    store.put("feature.dark_mode", "on").await?;
    store.put("feature.beta", "off").await?;
    store.put("limits.rps", "100").await?;

    // A view of the feature flags only. `ready` waits for the initial load.
    let mut flags = store.live_view(["feature.>"]).await?;
    flags.ready().await?;
    println!(
        "{} flags loaded at revision {}",
        flags.len(),
        flags.revision()
    );
    for entry in flags.snapshot() {
        println!("  {} = {}", entry.key, std::str::from_utf8(&entry.value)?);
    }

    // Reads are local: no server round trip.
    let dark = flags.value("feature.dark_mode");
    println!("dark_mode: {:?}", dark.as_deref().map(std::str::from_utf8));

    // Read-your-writes: after a put, wait until the view has applied that revision.
    let revision = store.put("feature.beta", "on").await?;
    flags.wait_for_revision(revision).await?;
    println!(
        "beta after the update: {:?}",
        flags
            .value("feature.beta")
            .as_deref()
            .map(std::str::from_utf8)
    );

    // Or wait for changes as they come, whoever makes them.
    let writer = store.clone();
    tokio::spawn(async move { writer.delete("feature.dark_mode").await });
    while flags.contains_key("feature.dark_mode") {
        let applied = flags.changed().await?;
        println!("view now at revision {applied}");
    }
    println!("dark_mode was deleted; {} flags left", flags.len());

    drop(flags);
    kv::delete_bucket(&js, "config").await?;
    js.client().close().await;
    Ok(())
}
