//! The discovery responder: every instance answers `$SRV.PING|INFO|STATS`, alone, with its
//! name, and with its name and id (ADR-32 "Discovery and Status"), on plain subscriptions (no
//! queue group: every instance answers).

use std::sync::Arc;

use client::{Message, Subscription};
use futures_util::stream::{self, StreamExt};

use crate::endpoint::OpenGuard;
use crate::error::Result;
use crate::service::ServiceInner;

/// The discovery verbs.
pub(crate) const VERBS: [&str; 3] = ["PING", "INFO", "STATS"];

/// The discovery subject for `verb`, optionally narrowed to a service name and instance id.
pub(crate) fn subject(prefix: &str, verb: &str, name: Option<&str>, id: Option<&str>) -> String {
    match (name, id) {
        (Some(name), Some(id)) => format!("{prefix}.{verb}.{name}.{id}"),
        (Some(name), None) => format!("{prefix}.{verb}.{name}"),
        _ => format!("{prefix}.{verb}"),
    }
}

/// Subscribes to the nine discovery subjects and answers them in a task until the service
/// stops or the client closes.
pub(crate) async fn start(inner: Arc<ServiceInner>) -> Result<()> {
    let client = &inner.core.client;
    let mut subs: Vec<(usize, Subscription)> = Vec::with_capacity(9);
    for (verb_index, verb) in VERBS.iter().enumerate() {
        for (name, id) in [
            (None, None),
            (Some(inner.name.as_str()), None),
            (Some(inner.name.as_str()), Some(inner.id.as_str())),
        ] {
            let sub = client
                .subscribe(subject(&inner.api_prefix, verb, name, id))
                .await?;
            subs.push((verb_index, sub));
        }
    }
    let open = OpenGuard::new(inner.core.clone());
    tokio::spawn(respond(inner, subs, open));
    Ok(())
}

async fn respond(inner: Arc<ServiceInner>, subs: Vec<(usize, Subscription)>, _open: OpenGuard) {
    let mut stop = inner.core.stop_signal();
    let mut merged = stream::select_all(
        subs.into_iter()
            .map(|(verb, sub)| sub.map(move |m| (verb, m))),
    );
    loop {
        tokio::select! {
            biased;
            () = &mut stop => break,
            next = merged.next() => match next {
                Some((verb, msg)) => answer(&inner, verb, &msg).await,
                None => break,
            },
        }
    }
    // Dropping the subscriptions unsubscribes them.
}

async fn answer(inner: &ServiceInner, verb: usize, msg: &Message) {
    let Some(reply) = &msg.reply else {
        return;
    };
    // A stats handler that panics costs this one reply, not the responder.
    let body = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match verb {
        0 => serde_json::to_vec(&inner.ping()),
        1 => serde_json::to_vec(&inner.info()),
        _ => serde_json::to_vec(&inner.stats()),
    }));
    if let Ok(Ok(body)) = body {
        // A failed reply (the client closing) leaves nothing to do: the asker times out.
        let _ = inner.core.client.publish(reply, body).await;
    }
}
