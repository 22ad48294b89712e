//! Helpers shared by the client benchmarks (`client`, `latency`).

/// The runtime every client benchmark runs on: tokio's multi-threaded scheduler with one
/// worker per core, as a typical application has.
pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// A responder on its own gnat connection that echoes every request's payload; both clients'
/// request benchmarks use it, so only the requesting side differs.
pub(crate) async fn spawn_gnat_responder(url: &str, subject: &str) -> Responder {
    let client = client::connect(url).await.expect("responder connects");
    let mut sub = client
        .subscribe(subject)
        .await
        .expect("responder subscribes");
    client.flush().await.expect("responder flush");
    let replies = client.clone();
    let task = tokio::spawn(async move {
        while let Some(msg) = sub.next().await {
            if let Some(reply) = msg.reply {
                let _ = replies.publish(reply.as_str(), msg.payload).await;
            }
        }
    });
    Responder {
        task,
        _client: client,
    }
}

/// A running responder; stops when dropped.
pub(crate) struct Responder {
    task: tokio::task::JoinHandle<()>,
    _client: client::Client,
}

impl Drop for Responder {
    fn drop(&mut self) {
        self.task.abort();
    }
}
