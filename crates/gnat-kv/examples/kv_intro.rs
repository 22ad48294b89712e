//! The NATS by Example "Key-Value Intro", with gnat.
//!
//! ```text
//! cargo run --release -p gnat-kv --example kv_intro
//! ```
//!
//! With `NATS_URL` set it uses that server (which must have JetStream and no `profiles`
//! bucket yet); without it, it starts a throwaway local `nats-server` (found or installed the
//! way the tests do it) and stops it at the end.

use std::error::Error;
use std::io::Write;
use std::str::from_utf8;

use gnat_kv::jetstream::{self, OrderedConfig};
use gnat_kv::{Config, WatchOptions};

/// Runs the walkthrough against the server at `url`, writing what it shows to `out`.
pub(crate) async fn run<W: Write>(url: &str, out: &mut W) -> Result<(), Box<dyn Error>> {
    let js = jetstream::connect(url).await?;

    // ### Bucket basics
    // A bucket is created by name; every other option has a Key-Value default.
    let kv = gnat_kv::create_bucket(&js, Config::new("profiles")).await?;

    // `put` and `entry`: each value gets a revision.
    kv.put("sue.color", "blue").await?;
    if let Some(entry) = kv.entry("sue.color").await? {
        writeln!(
            out,
            "{} @ {} -> {}",
            entry.key,
            entry.revision,
            from_utf8(&entry.value)?
        )?;
    }
    kv.put("sue.color", "green").await?;
    if let Some(entry) = kv.entry("sue.color").await? {
        writeln!(
            out,
            "{} @ {} -> {}",
            entry.key,
            entry.revision,
            from_utf8(&entry.value)?
        )?;
    }

    // Optimistic concurrency: `update` writes only if the key's latest revision is the one
    // expected. Revision 1 is stale, so this fails ...
    let stale = kv.update("sue.color", "red", 1).await;
    match stale {
        Err(e) if e.is_wrong_last_revision() => {}
        other => return Err(format!("expected a wrong-last-revision error, got {other:?}").into()),
    }
    // ... and revision 2 is current, so this succeeds.
    kv.update("sue.color", "red", 2).await?;
    if let Some(entry) = kv.entry("sue.color").await? {
        writeln!(
            out,
            "{} @ {} -> {}",
            entry.key,
            entry.revision,
            from_utf8(&entry.value)?
        )?;
    }

    // Every key with a current value.
    let keys = kv.keys().await?;
    writeln!(out, "All keys: {keys:?}")?;

    // ### Stream abstraction
    // A bucket is a stream named `KV_<bucket>`.
    let names = js.stream_names().await?;
    let name = names.first().ok_or("no stream")?;
    writeln!(out, "KV stream name: {name}")?;

    // Being a stream, it can be read with a plain consumer. The subject is `$KV.<bucket>.<key>`.
    let mut messages = js
        .ordered_consumer("KV_profiles", OrderedConfig::new())
        .await?;
    let message = messages.next().await.ok_or("consumer ended")??;
    writeln!(
        out,
        "{} @ {} -> {}",
        message.subject,
        message.info()?.stream_sequence,
        from_utf8(&message.payload)?
    )?;

    // A new value arrives on the consumer as a new message.
    kv.put("sue.color", "yellow").await?;
    let message = messages.next().await.ok_or("consumer ended")??;
    writeln!(
        out,
        "{} @ {} -> {}",
        message.subject,
        message.info()?.stream_sequence,
        from_utf8(&message.payload)?
    )?;

    // So does a delete: an empty message ...
    kv.delete("sue.color").await?;
    let message = messages.next().await.ok_or("consumer ended")??;
    writeln!(
        out,
        "{} @ {} -> {}",
        message.subject,
        message.info()?.stream_sequence,
        from_utf8(&message.payload)?
    )?;
    // ... with a header that says it is one. (gnat also stamps each write with a
    // `Nats-Msg-Id`, so that a write in flight on a lost connection is resent exactly once.)
    let headers = message.headers.as_ref().ok_or("delete without headers")?;
    let shown: Vec<String> = headers
        .iter()
        .filter(|(n, _)| n.starts_with("KV-"))
        .map(|(n, v)| format!("{n}: {v}"))
        .collect();
    writeln!(out, "headers: {}", shown.join(", "))?;

    // ### Watching for changes
    // A watcher delivers entries; this one only changes made from now on, on `sue.*`.
    let mut watch = kv
        .watch_with(["sue.*"], WatchOptions::new().updates_only())
        .await?;

    // The key was deleted, but a new value can be put.
    kv.put("sue.color", "purple").await?;
    let entry = watch.next_entry().await.ok_or("watch ended")??;
    writeln!(
        out,
        "{} @ {} -> {} (op: {:?})",
        entry.key,
        entry.revision,
        from_utf8(&entry.value)?,
        entry.operation
    )?;

    // Another key under `sue.`: its revision continues the stream's sequence.
    kv.put("sue.food", "pizza").await?;
    let entry = watch.next_entry().await.ok_or("watch ended")??;
    writeln!(
        out,
        "{} @ {} -> {} (op: {:?})",
        entry.key,
        entry.revision,
        from_utf8(&entry.value)?,
        entry.operation
    )?;
    Ok(())
}

fn main() -> Result<(), Box<dyn Error>> {
    // A throwaway server unless NATS_URL names one; it stops when dropped.
    let (url, _server) = match std::env::var("NATS_URL") {
        Ok(url) if !url.is_empty() => (url, None),
        _ => {
            let server = gnat_test_support::NatsServer::start_jetstream();
            (server.url(), Some(server))
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let mut stdout = std::io::stdout().lock();
    runtime.block_on(run(&url, &mut stdout))?;
    stdout.flush()?;
    Ok(())
}
