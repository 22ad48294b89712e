//! Queue groups: three workers share one subject; each request reaches exactly one of them.
//!
//! ```text
//! cargo run -p gnat --example queue_groups
//! ```
//!
//! Uses the server at `NATS_URL` (default: a throwaway local nats-server).

#[path = "common/mod.rs"]
mod common;

use std::collections::BTreeMap;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = common::server(false);
    let client = gnat::connect(&server.url).await?;

    // Three members of the queue group "workers" on the subject "jobs".
    for worker in 1..=3 {
        let mut jobs = client.queue_subscribe("jobs", "workers").await?;
        let replier = client.clone();
        tokio::spawn(async move {
            while let Some(job) = jobs.next().await {
                if let Some(reply) = job.reply {
                    let _ = replier.publish(reply, format!("worker-{worker}")).await;
                }
            }
        });
    }
    client.flush().await?; // the subscriptions are registered with the server

    // Thirty jobs, each answered by whichever member the server picked.
    let mut done_by: BTreeMap<String, u32> = BTreeMap::new();
    for n in 0..30 {
        let reply = client.request("jobs", format!("job {n}")).await?;
        *done_by
            .entry(String::from_utf8(reply.payload.to_vec())?)
            .or_default() += 1;
    }
    for (worker, count) in &done_by {
        println!("{worker} did {count} jobs");
    }
    println!("total: {}", done_by.values().sum::<u32>());
    client.close().await;
    Ok(())
}
