//! JetStream: a stream, publishes acknowledged by it, and a durable pull consumer that
//! fetches in batches and acknowledges what it processed.
//!
//! ```text
//! cargo run -p gnat --features jetstream --example jetstream_pull
//! ```
//!
//! Uses the server at `NATS_URL` (it needs JetStream, and no stream `ORDERS` yet; default:
//! a throwaway local nats-server).

#[path = "common/mod.rs"]
mod common;

use std::time::Duration;

use gnat::jetstream::{self, ConsumerConfig, FetchOptions, PublishOptions, StreamConfig};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = common::server(true);
    let js = jetstream::connect(&server.url).await?;

    let stream = js
        .create_stream(StreamConfig::new("ORDERS").subjects(["orders.>"]))
        .await?;
    println!(
        "stream {} on {:?}",
        stream.config.name, stream.config.subjects
    );

    // Each publish waits for the stream's ack: stored, with its sequence.
    for n in 1..=10 {
        let ack = js
            .publish(
                format!("orders.{}", if n % 2 == 0 { "eu" } else { "us" }),
                format!("order {n}"),
            )
            .await?;
        println!("order {n} stored as {}#{}", ack.stream, ack.seq);
    }
    // A message id makes a retry safe: the duplicate is recognised, not stored again.
    let opts = || PublishOptions::new().payload("order 11").msg_id("order-11");
    let first = js.publish_with("orders.us", opts()).await?;
    let again = js.publish_with("orders.us", opts()).await?;
    println!(
        "order 11: seq {} then duplicate={} (seq {})",
        first.seq, again.duplicate, again.seq
    );

    // A durable pull consumer for the EU orders.
    let consumer = js
        .create_pull_consumer(
            "ORDERS",
            ConsumerConfig::durable("eu-billing").filter_subject("orders.eu"),
        )
        .await?;
    let mut total = 0;
    loop {
        let mut batch = consumer
            .fetch(FetchOptions::new(2).expires(Duration::from_secs(1)))
            .await?;
        let mut in_batch = 0;
        while let Some(msg) = batch.next().await {
            let msg = msg?;
            let info = msg.info()?;
            println!(
                "  {} (stream seq {}, delivered {}x)",
                std::str::from_utf8(&msg.message().payload)?,
                info.stream_sequence,
                info.delivered
            );
            msg.ack().await?;
            in_batch += 1;
        }
        total += in_batch;
        if in_batch == 0 {
            break; // nothing more for now
        }
    }
    println!("eu-billing processed {total} orders");

    js.delete_stream("ORDERS").await?;
    js.client().close().await;
    Ok(())
}
