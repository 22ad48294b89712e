//! The blocking API: core publish/subscribe and request/reply, JetStream publish, and the
//! Key-Value store with a watcher — from plain threads, no `async` anywhere.
//!
//! ```text
//! cargo run -p gnat --features blocking,kv --example blocking
//! ```
//!
//! Uses the server at `NATS_URL` (it needs JetStream, and no stream `EVENTS` or bucket
//! `counters` yet; default: a throwaway local nats-server).

#[path = "common/mod.rs"]
mod common;

use std::time::Duration;

use gnat::jetstream::StreamConfig;
use gnat::kv::{Config, WatchEvent};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = common::server(true);
    let client = gnat::blocking::connect(&server.url)?;

    // Publish/subscribe: the subscription is an iterator, with a bounded wait beside it.
    let mut sub = client.subscribe("tick")?;
    for n in 0..3 {
        client.publish("tick", n.to_string())?;
    }
    for msg in sub.by_ref().take(3) {
        println!("tick {}", std::str::from_utf8(&msg.payload)?);
    }
    assert!(sub.next_timeout(Duration::from_millis(100)).is_none());

    // Request/reply with a responder on another thread.
    let mut service = client.subscribe("echo")?;
    let responder = client.clone();
    std::thread::spawn(move || {
        for request in service.by_ref() {
            if let Some(reply) = request.reply {
                let _ = responder.publish(reply, request.payload);
            }
        }
    });
    let reply = client.request("echo", "hello")?;
    println!("echo: {}", std::str::from_utf8(&reply.payload)?);

    // JetStream publish, acknowledged by the stream.
    let js = client.jetstream();
    js.create_stream(StreamConfig::new("EVENTS").subjects(["events.>"]))?;
    let ack = js.publish("events.signup", "sue")?;
    println!("stored as {}#{}", ack.stream, ack.seq);

    // The Key-Value store, with a watcher iterator fed by another thread.
    let kv = js.create_key_value(Config::new("counters"))?;
    let mut watch = kv.watch("visits.>")?;
    assert!(matches!(watch.next(), Some(Ok(WatchEvent::InitialDone))));
    let writer = kv.clone();
    let counting = std::thread::spawn(move || -> Result<(), gnat::kv::Error> {
        for n in 1..=3 {
            writer.put("visits.home", n.to_string())?;
        }
        Ok(())
    });
    for event in watch.by_ref().take(3) {
        if let WatchEvent::Entry(e) = event? {
            println!("{} = {}", e.key, std::str::from_utf8(&e.value)?);
        }
    }
    counting.join().map_err(|_| "writer panicked")??;
    let last = kv.entry("visits.home")?.ok_or("no entry")?;
    println!("visits.home at revision {}", last.revision);

    drop(watch);
    js.delete_key_value("counters")?;
    js.delete_stream("EVENTS")?;
    client.close();
    Ok(())
}
