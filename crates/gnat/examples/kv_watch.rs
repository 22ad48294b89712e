//! Key-Value watch: the current value of every matching key, an explicit end of the initial
//! data, then every change as it happens (here: made by another task).
//!
//! ```text
//! cargo run -p gnat --features kv --example kv_watch
//! ```
//!
//! Uses the server at `NATS_URL` (it needs JetStream, and no bucket `sensors` yet; default:
//! a throwaway local nats-server).

#[path = "common/mod.rs"]
mod common;

use gnat::kv::{self, Config, WatchEvent, WatchOptions};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = common::server(true);
    let js = gnat::jetstream::connect(&server.url).await?;
    let store = kv::create_bucket(&js, Config::new("sensors").history(10)).await?;
    store.put("room.kitchen", "21.5").await?;
    store.put("room.office", "19.0").await?;

    // Latest values of room.*, then InitialDone, then updates. `WatchOptions` can also ask
    // for the whole history, updates only, metadata only, or no deletes.
    let mut watch = store.watch_with(["room.*"], WatchOptions::new()).await?;

    let writer = store.clone();
    let mut writes = None;
    let mut updates = 0;
    while let Some(event) = watch.next().await {
        match event? {
            WatchEvent::Entry(e) => {
                println!(
                    "{:<14} rev {:>2} {:?} {}",
                    e.key,
                    e.revision,
                    e.operation,
                    std::str::from_utf8(&e.value)?
                );
                if writes.is_some() {
                    updates += 1;
                    if updates == 3 {
                        break;
                    }
                }
            }
            WatchEvent::InitialDone => {
                println!("-- initial values done; now live --");
                // Changes from elsewhere arrive in order, as they are stored.
                let writer = writer.clone();
                writes = Some(tokio::spawn(async move {
                    writer.put("room.kitchen", "22.0").await?;
                    writer.put("room.attic", "15.5").await?;
                    writer.delete("room.office").await?;
                    Ok::<_, kv::Error>(())
                }));
            }
        }
    }
    if let Some(writes) = writes {
        writes.await??;
    }

    drop(watch);
    kv::delete_bucket(&js, "sensors").await?;
    js.client().close().await;
    Ok(())
}
