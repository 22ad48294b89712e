//! Helpers shared by the benchmarks that run against a server (`client`, `latency`, `kv`,
//! `ceiling`, `jetstream`).

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

/// Receives until `count` messages arrived or nothing came for 2 s; returns how many.
pub(crate) async fn receive<S, M>(sub: &mut S, count: u64) -> u64
where
    S: futures_util::Stream<Item = M> + Unpin,
{
    use futures_util::StreamExt;
    let mut got = 0;
    while got < count {
        match tokio::time::timeout(std::time::Duration::from_secs(2), sub.next()).await {
            Ok(Some(_)) => got += 1,
            _ => break,
        }
    }
    got
}

/// The KV benchmarks' two buckets, one per client, with the same configuration (history 1,
/// file storage, direct get): gnat's `GNAT` and async-nats' `OFFICIAL`, each holding `keys`
/// (written in turn by both clients) with `value`.
pub(crate) async fn kv_buckets(
    url: &str,
    keys: &[String],
    value: &bytes::Bytes,
) -> (kv::Store, async_nats::jetstream::kv::Store) {
    let js = jetstream::connect(url).await.expect("gnat connects");
    let config = kv::Config::new("GNAT")
        .history(1)
        .storage(kv::StorageType::File);
    let gnat = kv::create_bucket(&js, config).await.expect("gnat bucket");
    let official = async_nats::jetstream::new(async_nats::connect(url).await.expect("connects"))
        .create_key_value(async_nats::jetstream::kv::Config {
            bucket: "OFFICIAL".to_string(),
            history: 1,
            storage: async_nats::jetstream::stream::StorageType::File,
            ..Default::default()
        })
        .await
        .expect("async-nats bucket");
    for k in keys {
        gnat.put(k, value.clone()).await.expect("gnat put");
        official
            .put(k, value.clone())
            .await
            .expect("async-nats put");
    }
    (gnat, official)
}
