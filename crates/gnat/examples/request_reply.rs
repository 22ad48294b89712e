//! Request/reply: a small service answers requests; a client asks, with the client's
//! default timeout and with one of its own, and sees "no responders" fail at once.
//!
//! ```text
//! cargo run -p gnat --example request_reply
//! ```
//!
//! Uses the server at `NATS_URL` (default: a throwaway local nats-server).

#[path = "common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use gnat::{ConnectOptions, Request};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = common::server(false);

    // The service: its own connection, answering on "math.double".
    let service = ConnectOptions::new()
        .name("doubler")
        .connect(&server.url)
        .await?;
    let mut requests = service.subscribe("math.double").await?;
    service.flush().await?;
    let responder = service.clone();
    tokio::spawn(async move {
        while let Some(request) = requests.next().await {
            let Some(reply) = request.reply else { continue };
            let answer = match std::str::from_utf8(&request.payload)
                .ok()
                .and_then(|s| s.trim().parse::<i64>().ok())
            {
                Some(n) => n.saturating_mul(2).to_string(),
                None => "error: not a number".to_string(),
            };
            let _ = responder.publish(reply, answer).await;
        }
    });

    // The client.
    let client = ConnectOptions::new()
        .request_timeout(Duration::from_secs(2))
        .connect(&server.url)
        .await?;
    for n in [1, 21, 1000] {
        let reply = client.request("math.double", n.to_string()).await?;
        println!("double({n}) = {}", std::str::from_utf8(&reply.payload)?);
    }
    let reply = client
        .send_request(
            "math.double",
            Request::new()
                .payload("x")
                .timeout(Duration::from_millis(500)),
        )
        .await?;
    println!("double(x) = {}", std::str::from_utf8(&reply.payload)?);

    // Nobody listens on this subject: the server says so and the request fails at once.
    let started = Instant::now();
    match client.request("math.triple", "1").await {
        Err(e) if e.is_no_responders() => {
            println!("math.triple: no responders ({:?})", started.elapsed())
        }
        other => return Err(format!("expected no responders, got {other:?}").into()),
    }

    client.close().await;
    service.drain().await?;
    Ok(())
}
