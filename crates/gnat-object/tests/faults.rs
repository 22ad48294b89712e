//! Faults in the middle of puts and reads: a server restart (same ports, same store) and the
//! loss of an R3 bucket's stream leader. Each operation either completes correctly or fails
//! with an error within the deadline: never a hang, a panic, or a half-visible object.

mod common;

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use common::{context, data, within};
use futures_util::StreamExt;
use gnat_object::Config;
use gnat_test_support::{Cluster, NatsServer};
use tokio::io::{AsyncRead, ReadBuf};
use tokio::sync::oneshot;

/// A reader over `data` that tells `at` once it has handed out `signal_after` bytes.
struct Signalling {
    data: Vec<u8>,
    pos: usize,
    signal_after: usize,
    at: Option<oneshot::Sender<()>>,
}

impl AsyncRead for Signalling {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let n = buf
            .remaining()
            .min(self.data.len() - self.pos)
            .min(64 * 1024);
        let start = self.pos;
        buf.put_slice(&self.data[start..start + n]);
        self.pos += n;
        if self.pos >= self.signal_after
            && let Some(tx) = self.at.take()
        {
            let _ = tx.send(());
        }
        Poll::Ready(Ok(()))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_restart_mid_put() {
    let mut server = NatsServer::start_jetstream();
    let js = context(&server.url()).await;
    let store = gnat_object::create_bucket(&js, Config::new("restart"))
        .await
        .unwrap();
    store.put_bytes("obj", "old version").await.unwrap();
    let bytes = data(48 << 20);
    let (tx, rx) = oneshot::channel();
    let reader = Signalling {
        data: bytes.clone(),
        pos: 0,
        signal_after: 8 << 20,
        at: Some(tx),
    };
    let putter = store.clone();
    let put = tokio::spawn(async move { putter.put("obj", reader).await });
    within("8 MiB read by the put", rx).await.unwrap();
    tokio::task::block_in_place(|| server.restart());
    let result = within("the put ends", put).await.unwrap();
    // Either the new version is there whole, or the old one is untouched.
    let stored = within("read back", async {
        loop {
            match store.get_bytes("obj").await {
                Ok(b) => break b,
                Err(e) if e.is_timeout() || e.is_no_responders() || e.code() == Some(503) => {}
                Err(e) => panic!("read back: {e:?}"),
            }
        }
    })
    .await;
    match result {
        Ok(info) => {
            assert_eq!(info.size, bytes.len() as u64);
            assert!(stored == bytes, "the completed put reads back");
        }
        Err(e) => {
            eprintln!("put failed across the restart: {e}");
            assert_eq!(stored, "old version");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_restart_mid_get() {
    let mut server = NatsServer::start_jetstream();
    let js = context(&server.url()).await;
    let store = gnat_object::create_bucket(&js, Config::new("restart"))
        .await
        .unwrap();
    let bytes = data(32 << 20);
    store.put_bytes("obj", bytes.clone()).await.unwrap();
    let mut reader = store.get("obj").await.unwrap();
    let mut out = Vec::with_capacity(bytes.len());
    for _ in 0..4 {
        out.extend_from_slice(&within("a chunk", reader.next()).await.unwrap().unwrap());
    }
    tokio::task::block_in_place(|| server.restart());
    let rest = within("the read ends", async {
        while let Some(chunk) = reader.next().await {
            out.extend_from_slice(&chunk?);
        }
        Ok::<_, gnat_object::Error>(())
    })
    .await;
    match rest {
        Ok(()) => assert!(
            out == bytes,
            "a read that completes is complete and correct"
        ),
        Err(e) => eprintln!("read failed across the restart (allowed): {e}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r3_leader_killed_mid_get() {
    let mut cluster = Cluster::start(3);
    let js = context(&cluster.urls().join(",")).await;
    let store = within("create an R3 bucket", async {
        loop {
            match gnat_object::create_bucket(&js, Config::new("R3").replicas(3)).await {
                Ok(s) => break s,
                // The meta leader may still be settling.
                Err(e) if e.code().is_some_and(|c| c >= 500) || e.is_timeout() => {}
                Err(e) => panic!("create bucket: {e}"),
            }
        }
    })
    .await;
    let store = store.with_read_timeout(Duration::from_secs(30));
    let bytes = data(24 << 20);
    store.put_bytes("obj", bytes.clone()).await.unwrap();
    let status = store.status().await.unwrap();
    assert_eq!(status.replicas(), 3);
    let leader_name = status
        .stream_info()
        .cluster
        .as_ref()
        .and_then(|c| c.leader.clone())
        .expect("the stream has a leader");
    let leader = cluster
        .servers()
        .iter()
        .position(|s| s.name() == Some(leader_name.as_str()))
        .expect("the leader is one of the nodes");

    let mut reader = store.get("obj").await.unwrap();
    let mut out = Vec::with_capacity(bytes.len());
    for _ in 0..4 {
        out.extend_from_slice(&within("a chunk", reader.next()).await.unwrap().unwrap());
    }
    tokio::task::block_in_place(|| cluster.kill(leader));
    let rest = within("the read ends", async {
        while let Some(chunk) = reader.next().await {
            out.extend_from_slice(&chunk?);
        }
        Ok::<_, gnat_object::Error>(())
    })
    .await;
    match rest {
        Ok(()) => assert!(
            out == bytes,
            "a read that completes is complete and correct"
        ),
        Err(e) => eprintln!("read failed across the leader loss (allowed): {e}"),
    }
    // A fresh read on the new leader works.
    let again = within("read on the new leader", async {
        loop {
            match store.get_bytes("obj").await {
                Ok(b) => break b,
                Err(e) => eprintln!("retrying after: {e}"),
            }
        }
    })
    .await;
    assert!(again == bytes);
}
