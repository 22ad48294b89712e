//! Every object-store operation against a real nats-server.

mod common;

use std::time::Duration;

use common::{bucket, data, digest_of, jetstream, within};
use futures_util::StreamExt;
use gnat_object::jetstream::{PublishOptions, StorageType, StoreCompression};
use gnat_object::{Config, DEFAULT_CHUNK_SIZE, ObjectMeta, WatchEvent, WatchOptions};
use tokio::io::AsyncReadExt;

const CHUNK: usize = DEFAULT_CHUNK_SIZE as usize;

#[tokio::test]
async fn bucket_create_bind_status_list_update_seal_delete() {
    let (_server, js) = jetstream().await;
    let config = Config::new("assets")
        .description("build artefacts")
        .ttl(Duration::from_secs(3600))
        .max_bytes(64 << 20)
        .storage(StorageType::Memory)
        .compression(false)
        .metadata("owner", "ci");
    let store = gnat_object::create_bucket(&js, config.clone())
        .await
        .unwrap();
    assert_eq!(store.stream_name(), "OBJ_assets");
    // The same configuration again is fine; another one is refused.
    gnat_object::create_bucket(&js, config.clone())
        .await
        .unwrap();
    let e = gnat_object::create_bucket(&js, config.clone().description("other"))
        .await
        .unwrap_err();
    assert!(e.is_bucket_exists(), "{e:?}");

    let status = store.status().await.unwrap();
    assert_eq!(status.bucket(), "assets");
    assert_eq!(status.description(), Some("build artefacts"));
    assert_eq!(status.ttl(), Duration::from_secs(3600));
    assert_eq!(status.storage(), StorageType::Memory);
    assert_eq!(status.replicas(), 1);
    assert!(!status.sealed() && !status.is_compressed());
    assert_eq!(status.max_bytes(), 64 << 20);
    assert_eq!(status.metadata().unwrap()["owner"], "ci");
    assert_eq!(status.config().metadata["owner"], "ci");
    assert_eq!(status.size(), 0);
    store.put_bytes("a", "hello").await.unwrap();
    // Status is fresh from the server on every call.
    assert!(store.status().await.unwrap().size() > 0);

    let e = gnat_object::bind(&js, "nope").await.unwrap_err();
    assert!(e.is_not_found() && e.is_bucket_not_found(), "{e:?}");
    assert!(e.to_string().contains("bucket nope not found"), "{e}");
    assert_eq!(e.err_code(), Some(10059));
    let e = gnat_object::bind(&js, "a.b").await.unwrap_err();
    assert!(e.is_invalid_bucket_name());
    let e = gnat_object::create_bucket(&js, Config::new(""))
        .await
        .unwrap_err();
    assert!(e.is_invalid_bucket_name());
    let bound = gnat_object::bind(&js, "assets").await.unwrap();
    assert_eq!(bound.get_bytes("a").await.unwrap(), "hello");

    // Compression on a file bucket (ADR-20 revision 3), through update.
    gnat_object::create_bucket(&js, Config::new("second"))
        .await
        .unwrap();
    let updated = gnat_object::update_bucket(
        &js,
        Config::new("second")
            .compression(true)
            .description("now compressed"),
    )
    .await
    .unwrap();
    let status = updated.status().await.unwrap();
    assert!(status.is_compressed());
    assert_eq!(
        status.stream_info().config.compression,
        Some(StoreCompression::S2)
    );
    let e = gnat_object::update_bucket(&js, Config::new("missing"))
        .await
        .unwrap_err();
    assert!(e.is_bucket_not_found());

    assert_eq!(
        gnat_object::bucket_names(&js).await.unwrap(),
        vec!["assets".to_string(), "second".to_string()]
    );
    let statuses = gnat_object::bucket_statuses(&js).await.unwrap();
    assert_eq!(statuses.len(), 2);
    assert!(statuses[1].is_compressed());

    let sealed = store.seal().await.unwrap();
    assert!(sealed.sealed());
    assert!(store.status().await.unwrap().sealed());
    assert!(store.put_bytes("b", "x").await.is_err());
    assert!(store.delete("a").await.is_err());
    assert_eq!(store.get_bytes("a").await.unwrap(), "hello");

    gnat_object::delete_bucket(&js, "assets").await.unwrap();
    let e = gnat_object::delete_bucket(&js, "assets").await.unwrap_err();
    assert!(e.is_bucket_not_found());
    assert!(store.info("a").await.unwrap_err().is_bucket_not_found());
}

#[tokio::test]
async fn sizes_round_trip_with_their_digest() {
    let (_server, _js, store) = bucket("sizes").await;
    for n in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 17] {
        let bytes = data(n);
        let name = format!("obj-{n}");
        let info = store.put(name.as_str(), &bytes[..]).await.unwrap();
        assert_eq!(info.size, n as u64);
        assert_eq!(info.chunks, n.div_ceil(CHUNK) as u64, "{n}");
        assert_eq!(info.digest.as_deref(), Some(digest_of(&bytes).as_str()));
        assert_eq!(info.bucket, "sizes");
        let stored = store.info(&name).await.unwrap();
        assert_eq!(stored.nuid, info.nuid);
        assert_eq!(stored.size, n as u64);
        assert!(stored.mtime.elapsed() < Duration::from_secs(60));
        // As an AsyncRead …
        let mut reader = store.get(&name).await.unwrap();
        let mut out = Vec::new();
        reader.read_to_end(&mut out).await.unwrap();
        assert_eq!(out, bytes, "{n}");
        // … and as a stream of chunks.
        let mut reader = store.get(&name).await.unwrap();
        let mut chunks = 0;
        let mut total = Vec::new();
        while let Some(chunk) = reader.next().await {
            let chunk = chunk.unwrap();
            assert!(chunk.len() <= CHUNK);
            total.extend_from_slice(&chunk);
            chunks += 1;
        }
        assert_eq!(chunks, n.div_ceil(CHUNK));
        assert_eq!(total, bytes);
        // put_bytes gives the same digest.
        let again = store.put_bytes(name.as_str(), bytes.clone()).await.unwrap();
        assert_eq!(again.digest, info.digest);
    }
}

#[tokio::test]
async fn a_hundred_mebibytes() {
    let (_server, _js, store) = bucket("big").await;
    let bytes = data(100 << 20);
    let info = within("put 100 MiB", store.put("big", &bytes[..]))
        .await
        .unwrap();
    assert_eq!(info.chunks, (100 << 20) / CHUNK as u64);
    let mut reader = store.get("big").await.unwrap();
    let mut out = Vec::with_capacity(bytes.len());
    within("get 100 MiB", reader.read_to_end(&mut out))
        .await
        .unwrap();
    assert!(out == bytes);
}

#[tokio::test]
async fn chunk_size_per_put_and_max_payload() {
    let (_server, _js, store) = bucket("chunks").await;
    let bytes = data(10_000);
    let info = store
        .put(ObjectMeta::new("small-chunks").chunk_size(1000), &bytes[..])
        .await
        .unwrap();
    assert_eq!(info.chunks, 10);
    assert_eq!(info.options.max_chunk_size, Some(1000));
    assert_eq!(store.get_bytes("small-chunks").await.unwrap(), bytes);
    // Larger than the server's max payload (1 MiB by default): lowered to it.
    let max = store.context().client().max_payload();
    let big = data(max * 2 + 5);
    let info = store
        .put(
            ObjectMeta::new("huge-chunks").chunk_size(64 << 20),
            &big[..],
        )
        .await
        .unwrap();
    assert_eq!(info.options.max_chunk_size, Some(max as u32));
    assert_eq!(info.chunks, 3);
    assert_eq!(store.get_bytes("huge-chunks").await.unwrap(), big);
    let e = store
        .put(ObjectMeta::new("zero").chunk_size(0), &b"x"[..])
        .await
        .unwrap_err();
    assert_eq!(e.kind(), gnat_object::ErrorKind::InvalidInput);
}

#[tokio::test]
async fn meta_headers_names_and_overwrite() {
    let (_server, js, store) = bucket("meta").await;
    let name = "dir/sub dir/ä file.*>\t";
    let info = store
        .put(
            ObjectMeta::new(name)
                .description("weird name")
                .header("Content-Type", "text/plain")
                .header("X-Multi", "a")
                .header("X-Multi", "b")
                .metadata("k", "v"),
            &b"first version"[..],
        )
        .await
        .unwrap();
    let stored = store.info(name).await.unwrap();
    assert_eq!(stored.description.as_deref(), Some("weird name"));
    assert_eq!(stored.headers["X-Multi"], vec!["a", "b"]);
    assert_eq!(stored.metadata["k"], "v");
    // The meta subject is the base64url of the name.
    assert_eq!(
        store.meta_subject(name),
        "$O.meta.M.ZGlyL3N1YiBkaXIvw6QgZmlsZS4qPgk="
    );

    // Overwrite: a new nuid, the old chunks purged.
    let old_chunks = store.chunk_subject(&info.nuid);
    let second = store.put_bytes(name, "second").await.unwrap();
    assert_ne!(second.nuid, info.nuid);
    assert_eq!(store.get_bytes(name).await.unwrap(), "second");
    let s = js
        .stream_info_with_subjects(store.stream_name(), &old_chunks)
        .await
        .unwrap();
    assert_eq!(s.state.subjects.unwrap_or_default().len(), 0);
    // One meta message per name (rollup).
    let s = js
        .stream_info_with_subjects(store.stream_name(), &store.meta_subject(name))
        .await
        .unwrap();
    assert_eq!(s.state.subjects.unwrap()[&store.meta_subject(name)], 1);

    // Bad input writes nothing.
    assert!(
        store
            .put_bytes("", "x")
            .await
            .unwrap_err()
            .is_invalid_name()
    );
    assert!(store.info("").await.unwrap_err().is_invalid_name());
    assert!(store.get("").await.unwrap_err().is_invalid_name());
    assert!(store.delete("").await.unwrap_err().is_invalid_name());
    assert!(
        store
            .info("missing")
            .await
            .unwrap_err()
            .is_object_not_found()
    );
    assert!(store.get("missing").await.unwrap_err().is_not_found());
}

/// A reader that yields `good` bytes and then fails.
struct FailingReader {
    left: usize,
}

impl tokio::io::AsyncRead for FailingReader {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        if self.left == 0 {
            return std::task::Poll::Ready(Err(std::io::Error::other("disk on fire")));
        }
        let n = self.left.min(buf.remaining()).min(10_000);
        buf.put_slice(&vec![7u8; n]);
        self.left -= n;
        std::task::Poll::Ready(Ok(()))
    }
}

#[tokio::test]
async fn a_failing_reader_leaves_nothing() {
    let (_server, js, store) = bucket("failing").await;
    store.put_bytes("keep", "old").await.unwrap();
    let e = store
        .put(
            "keep",
            FailingReader {
                left: 3 * CHUNK + 5,
            },
        )
        .await
        .unwrap_err();
    assert!(e.is_read(), "{e:?}");
    assert_eq!(e.io().unwrap().to_string(), "disk on fire");
    // The old version is untouched, and no chunk of the failed put is left.
    assert_eq!(store.get_bytes("keep").await.unwrap(), "old");
    let e = store
        .put("new", FailingReader { left: 2 * CHUNK })
        .await
        .unwrap_err();
    assert!(e.is_read());
    assert!(store.info("new").await.unwrap_err().is_object_not_found());
    let s = js
        .stream_info_with_subjects(store.stream_name(), "$O.failing.C.>")
        .await
        .unwrap();
    assert_eq!(
        s.state.subjects.unwrap_or_default().len(),
        1,
        "only keep's chunks"
    );
}

#[tokio::test]
async fn delete_list_and_update_meta() {
    let (_server, js, store) = bucket("ops").await;
    let a = store.put_bytes("a", data(CHUNK * 2)).await.unwrap();
    store.put_bytes("b", "bee").await.unwrap();
    store.put_bytes("c", "sea").await.unwrap();

    store.delete("a").await.unwrap();
    // Deleting again is fine; deleting what never existed is not.
    store.delete("a").await.unwrap();
    assert!(
        store
            .delete("never")
            .await
            .unwrap_err()
            .is_object_not_found()
    );
    assert!(store.info("a").await.unwrap_err().is_object_not_found());
    assert!(store.get("a").await.unwrap_err().is_object_not_found());
    let marker = store.info_with("a", true).await.unwrap();
    assert!(marker.deleted && marker.size == 0 && marker.chunks == 0 && marker.digest.is_none());
    let s = js
        .stream_info_with_subjects(store.stream_name(), &store.chunk_subject(&a.nuid))
        .await
        .unwrap();
    assert_eq!(
        s.state.subjects.unwrap_or_default().len(),
        0,
        "chunks purged"
    );

    let names = |v: Vec<gnat_object::ObjectInfo>| {
        let mut n: Vec<String> = v.into_iter().map(|i| i.name).collect();
        n.sort();
        n
    };
    assert_eq!(names(store.list().await.unwrap()), ["b", "c"]);
    assert_eq!(names(store.list_with(true).await.unwrap()), ["a", "b", "c"]);

    // Update meta, then rename.
    let updated = store
        .update_meta(
            "b",
            ObjectMeta::new("b")
                .description("described")
                .header("H", "1"),
        )
        .await
        .unwrap();
    assert_eq!(updated.description.as_deref(), Some("described"));
    assert_eq!(store.info("b").await.unwrap().headers["H"], vec!["1"]);
    let e = store
        .update_meta("b", ObjectMeta::new("c"))
        .await
        .unwrap_err();
    assert!(e.is_object_exists(), "{e:?}");
    store.update_meta("b", ObjectMeta::new("b2")).await.unwrap();
    assert!(store.info("b").await.unwrap_err().is_object_not_found());
    assert_eq!(store.get_bytes("b2").await.unwrap(), "bee");
    // Renaming onto a deleted name is fine.
    store.update_meta("b2", ObjectMeta::new("a")).await.unwrap();
    assert_eq!(store.get_bytes("a").await.unwrap(), "bee");
    assert!(
        store
            .update_meta("gone", ObjectMeta::new("x"))
            .await
            .unwrap_err()
            .is_object_not_found()
    );
    assert_eq!(names(store.list().await.unwrap()), ["a", "c"]);

    // An empty bucket lists nothing (and does not hang).
    let (_s2, _js2, empty) = bucket("empty").await;
    assert!(within("list empty", empty.list()).await.unwrap().is_empty());
}

#[tokio::test]
async fn links() {
    let (_server, js, store) = bucket("links").await;
    let other = gnat_object::create_bucket(&js, Config::new("other"))
        .await
        .unwrap();
    let target = store.put_bytes("target", "payload").await.unwrap();
    let remote = other.put_bytes("remote", "far away").await.unwrap();

    let link = store.add_link("ln", &target).await.unwrap();
    assert_eq!(link.link().unwrap().name.as_deref(), Some("target"));
    assert_eq!(store.get_bytes("ln").await.unwrap(), "payload");
    assert_eq!(store.get("ln").await.unwrap().info().name, "target");
    store.add_link("far", &remote).await.unwrap();
    assert_eq!(store.get_bytes("far").await.unwrap(), "far away");

    // A link to a link, to a deleted object, or over a regular object: refused.
    let ln = store.info("ln").await.unwrap();
    assert!(store.add_link("ln2", &ln).await.unwrap_err().is_link());
    let e = store.add_link("target", &remote).await.unwrap_err();
    assert!(e.is_object_exists());
    other.put_bytes("doomed", "x").await.unwrap();
    let doomed = other.info("doomed").await.unwrap();
    other.delete("doomed").await.unwrap();
    let deleted = other.info_with("doomed", true).await.unwrap();
    assert!(store.add_link("x", &deleted).await.unwrap_err().is_link());
    // The stale info (read before the delete) is still refused by get.
    store.add_link("stale", &doomed).await.unwrap();
    assert!(store.get("stale").await.unwrap_err().is_object_not_found());
    // A link may replace a link.
    store.add_link("ln", &remote).await.unwrap();
    assert_eq!(store.get_bytes("ln").await.unwrap(), "far away");

    // Bucket links are links but not readable as objects.
    let bl = store.add_bucket_link("bucket", "other").await.unwrap();
    assert!(bl.is_bucket_link());
    assert!(store.get("bucket").await.unwrap_err().is_link());
    assert!(store.info("bucket").await.unwrap().is_bucket_link());
}

#[tokio::test]
async fn watch_with_and_without_history() {
    let (_server, _js, store) = bucket("watched").await;
    store.put_bytes("a", "1").await.unwrap();
    store.put_bytes("b", "2").await.unwrap();
    store.put_bytes("a", "3").await.unwrap();

    let mut w = store.watch().await.unwrap();
    let mut seen = Vec::new();
    while let WatchEvent::Info(i) = within("watch", w.next()).await.unwrap().unwrap() {
        seen.push(i.name.clone());
    }
    seen.sort();
    assert_eq!(seen, ["a", "b"]);
    let mut updates = store
        .watch_with(WatchOptions::new().updates_only())
        .await
        .unwrap();
    assert_eq!(
        within("marker", updates.next()).await.unwrap().unwrap(),
        WatchEvent::InitialDone
    );
    store.put_bytes("c", "4").await.unwrap();
    store.delete("b").await.unwrap();
    for w in [&mut w, &mut updates] {
        let e = within("put event", w.next()).await.unwrap().unwrap();
        assert_eq!(e.info().unwrap().name, "c");
        let e = within("delete event", w.next()).await.unwrap().unwrap();
        assert!(e.info().unwrap().deleted && e.info().unwrap().name == "b");
    }
    let mut no_deletes = store
        .watch_with(WatchOptions::new().ignore_deletes())
        .await
        .unwrap();
    let mut names = Vec::new();
    while let WatchEvent::Info(i) = within("watch", no_deletes.next()).await.unwrap().unwrap() {
        names.push(i.name.clone());
    }
    names.sort();
    assert_eq!(names, ["a", "c"]);
    // History: the rollup keeps one meta message per name.
    let mut history = store
        .watch_with(WatchOptions::new().include_history())
        .await
        .unwrap();
    let mut n = 0;
    while let WatchEvent::Info(_) = within("history", history.next()).await.unwrap().unwrap() {
        n += 1;
    }
    assert_eq!(n, 3);
    // An empty bucket's watch starts with the marker.
    let (_s2, _j2, empty) = bucket("quiet").await;
    let mut w = empty.watch().await.unwrap();
    assert_eq!(
        within("marker", w.next()).await.unwrap().unwrap(),
        WatchEvent::InitialDone
    );
}

#[tokio::test]
async fn a_corrupt_chunk_fails_the_digest_check() {
    let (_server, js, store) = bucket("corrupt").await;
    let bytes = data(2 * CHUNK);
    let info = store.put_bytes("obj", bytes.clone()).await.unwrap();
    // Replace the first chunk by one of the same size with one byte changed: delete it and
    // publish the corrupt one onto the chunk subject (it lands after the second).
    let first = js
        .get_next_message(store.stream_name(), 1, &store.chunk_subject(&info.nuid))
        .await
        .unwrap();
    js.delete_message(store.stream_name(), first.sequence)
        .await
        .unwrap();
    let mut bad = bytes[..CHUNK].to_vec();
    bad[100] ^= 1;
    js.publish_with(
        store.chunk_subject(&info.nuid),
        PublishOptions::new().payload(bad),
    )
    .await
    .unwrap();
    let mut reader = store.get("obj").await.unwrap();
    let mut out = Vec::new();
    let e = within("corrupt read", reader.read_to_end(&mut out))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidData);
    let inner = e.into_inner().unwrap();
    let inner = inner.downcast_ref::<gnat_object::Error>().unwrap();
    assert!(inner.is_digest_mismatch(), "{inner:?}");

    // Chunks gone (purged behind the meta's back): an error at once, never a hang.
    store.put_bytes("gone", data(3 * CHUNK)).await.unwrap();
    let gone = store.info("gone").await.unwrap();
    js.purge_stream(
        store.stream_name(),
        gnat_object::jetstream::PurgeRequest::new().filter(store.chunk_subject(&gone.nuid)),
    )
    .await
    .unwrap();
    let e = within("missing chunks", store.get_bytes("gone"))
        .await
        .unwrap_err();
    assert!(e.is_chunks_missing(), "{e:?}");
}

#[tokio::test]
async fn delete_during_a_concurrent_get() {
    let (_server, _js, store) = bucket("racing").await;
    let store = store.with_read_timeout(Duration::from_secs(30));
    store.put_bytes("big", data(40 << 20)).await.unwrap();
    let mut reader = store.get("big").await.unwrap();
    // Read one chunk, delete the object, then read on: an error (or, if everything was
    // already delivered, the complete object), never a hang.
    let first = within("first chunk", reader.next()).await.unwrap().unwrap();
    assert_eq!(first.len(), CHUNK);
    store.delete("big").await.unwrap();
    let result = within("read after delete", async {
        let mut n = first.len();
        while let Some(chunk) = reader.next().await {
            n += chunk?.len();
        }
        Ok::<usize, gnat_object::Error>(n)
    })
    .await;
    match result {
        Ok(n) => assert_eq!(n, 40 << 20),
        Err(e) => assert!(e.is_chunks_missing(), "{e:?}"),
    }
    assert!(store.get("big").await.unwrap_err().is_object_not_found());
}

#[tokio::test]
async fn a_bucket_without_direct_gets_reads_through_an_ordered_consumer() {
    let (_server, js) = jetstream().await;
    let mut sc = Config::new("nodirect").to_stream_config().unwrap();
    sc.allow_direct = Some(false);
    js.create_stream(&sc).await.unwrap();
    let store = gnat_object::bind(&js, "nodirect").await.unwrap();
    let bytes = data(3 * CHUNK + 5);
    store.put_bytes("obj", bytes.clone()).await.unwrap();
    assert_eq!(store.info("obj").await.unwrap().size, bytes.len() as u64);
    assert!(store.get_bytes("obj").await.unwrap() == bytes);
    let info = store.info("obj").await.unwrap();
    js.purge_stream(
        store.stream_name(),
        gnat_object::jetstream::PurgeRequest::new().filter(store.chunk_subject(&info.nuid)),
    )
    .await
    .unwrap();
    let e = within("missing chunks", store.get_bytes("obj"))
        .await
        .unwrap_err();
    assert!(e.is_chunks_missing(), "{e:?}");
}
