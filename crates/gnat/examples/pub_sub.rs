//! Publish and subscribe: wildcards, headers, and a drain at the end.
//!
//! ```text
//! cargo run -p gnat --example pub_sub
//! ```
//!
//! Uses the server at `NATS_URL` (default: a throwaway local nats-server).

#[path = "common/mod.rs"]
mod common;

use gnat::HeaderMap;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = common::server(false);
    let client = gnat::connect(&server.url).await?;

    // `>` matches one or more tokens, `*` exactly one.
    let mut weather = client.subscribe("weather.>").await?;
    for (city, celsius) in [("paris", "12"), ("oslo", "-3"), ("lima", "19")] {
        client.publish(format!("weather.{city}"), celsius).await?;
    }
    // Headers travel with the message.
    let mut headers = HeaderMap::new();
    headers.insert("Units", "fahrenheit")?;
    client
        .publish_with_headers("weather.boston", &headers, "54")
        .await?;
    // `flush` returns when the server has processed everything published before it.
    client.flush().await?;

    for _ in 0..4 {
        let msg = weather.next().await.ok_or("subscription ended")?;
        let units = msg
            .headers
            .as_ref()
            .and_then(|h| h.get("Units"))
            .unwrap_or("celsius");
        println!(
            "{} -> {} {units}",
            msg.subject,
            std::str::from_utf8(&msg.payload)?
        );
    }

    // Drain: unsubscribe, deliver what is in flight, flush, close.
    client.drain().await?;
    let stats = client.statistics();
    println!(
        "sent {} messages, received {}",
        stats.out_messages, stats.in_messages
    );
    Ok(())
}
