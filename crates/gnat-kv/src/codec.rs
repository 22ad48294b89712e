//! Key and value codecs (ADR-54): a [`CodecStore`] is a view of a [`Store`] whose keys and
//! values pass through codecs on the way in and out, so an application can use keys that are
//! not valid subjects, path-style keys, or encrypted values, and still get, put, list and
//! watch as usual.
//!
//! Built-ins, as ADR-54 names them and wire-compatible with the Go reference
//! implementation (synadia-io/orbit.go `kvcodec`):
//!
//! * [`NoOpCodec`]: keys and values unchanged.
//! * [`Base64Codec`]: each `.`-separated token of a key is encoded on its own with URL-safe
//!   base64 without padding (so the key keeps its tokens and filters can keep wildcards);
//!   values are encoded whole the same way.
//! * [`PathCodec`]: `a/b/c` ↔ `a.b.c`; a leading `/` becomes the token `_root_`, a trailing
//!   `/` is dropped. A `.` inside a path segment becomes a token separator and comes back
//!   as `/` (as in the reference); chain a codec that escapes dots first if paths have them.
//!
//! Codecs chain ([`KeyChain`], [`ValueChain`]): encoding runs them first to last, decoding
//! last to first. Filters (`keys_matching`, `watch`) go through
//! [`KeyCodec::encode_filter`], which the built-ins implement keeping `*` and `>` tokens; a
//! codec that cannot keep wildcards refuses filters with them.
//!
//! A [`ValueCodec`] sees every value written and read, which is the hook for encryption
//! (see the AES-GCM example in this crate's `tests/codecs.rs`, using `ring`).

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use bytes::Bytes;
use futures_core::Stream;

use crate::entry::{Entry, Key};
use crate::error::{Error, ErrorKind, Result};
use crate::store::Store;
use crate::watch::{WatchEvent, WatchOptions, Watcher};

/// Transforms keys before they are stored and after they are read (ADR-54).
pub trait KeyCodec: Send + Sync + 'static {
    /// The key as stored.
    fn encode_key(&self, key: &str) -> Result<String>;
    /// The key as the application knows it.
    fn decode_key(&self, encoded: &str) -> Result<String>;
    /// A filter (`*`, `>` wildcards) as stored. The default encodes filters without
    /// wildcards as keys and refuses the others.
    fn encode_filter(&self, filter: &str) -> Result<String> {
        if filter.split('.').any(|t| t == "*" || t == ">") {
            return Err(Error::new(
                ErrorKind::Codec,
                format!("this key codec cannot encode the wildcards of filter {filter:?}"),
            ));
        }
        self.encode_key(filter)
    }
}

/// Transforms values before they are stored and after they are read (ADR-54).
pub trait ValueCodec: Send + Sync + 'static {
    /// The value as stored.
    fn encode_value(&self, value: Bytes) -> Result<Bytes>;
    /// The value as the application knows it.
    fn decode_value(&self, encoded: Bytes) -> Result<Bytes>;
}

/// Leaves keys and values as they are.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoOpCodec;

impl KeyCodec for NoOpCodec {
    fn encode_key(&self, key: &str) -> Result<String> {
        Ok(key.to_string())
    }
    fn decode_key(&self, encoded: &str) -> Result<String> {
        Ok(encoded.to_string())
    }
    fn encode_filter(&self, filter: &str) -> Result<String> {
        Ok(filter.to_string())
    }
}

impl ValueCodec for NoOpCodec {
    fn encode_value(&self, value: Bytes) -> Result<Bytes> {
        Ok(value)
    }
    fn decode_value(&self, encoded: Bytes) -> Result<Bytes> {
        Ok(encoded)
    }
}

/// URL-safe base64 without padding: per token for keys, whole for values.
///
/// ```
/// use gnat_kv::{Base64Codec, KeyCodec};
/// assert_eq!(Base64Codec.encode_key("Acme Inc.contact")?, "QWNtZSBJbmM.Y29udGFjdA");
/// assert_eq!(Base64Codec.encode_filter("Acme Inc.>")?, "QWNtZSBJbmM.>");
/// # Ok::<(), gnat_kv::Error>(())
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Base64Codec;

impl KeyCodec for Base64Codec {
    fn encode_key(&self, key: &str) -> Result<String> {
        Ok(map_tokens(key, |t| b64_encode(t.as_bytes())))
    }
    fn decode_key(&self, encoded: &str) -> Result<String> {
        let mut out = String::with_capacity(encoded.len());
        for (i, token) in encoded.split('.').enumerate() {
            if i > 0 {
                out.push('.');
            }
            let bytes = b64_decode(token.as_bytes())?;
            let text = String::from_utf8(bytes).map_err(|_| {
                Error::new(
                    ErrorKind::Codec,
                    format!("key token {token:?} is not UTF-8 base64"),
                )
            })?;
            out.push_str(&text);
        }
        Ok(out)
    }
    fn encode_filter(&self, filter: &str) -> Result<String> {
        Ok(map_tokens(filter, |t| {
            if t == "*" || t == ">" {
                t.to_string()
            } else {
                b64_encode(t.as_bytes())
            }
        }))
    }
}

impl ValueCodec for Base64Codec {
    fn encode_value(&self, value: Bytes) -> Result<Bytes> {
        Ok(Bytes::from(b64_encode(&value)))
    }
    fn decode_value(&self, encoded: Bytes) -> Result<Bytes> {
        Ok(Bytes::from(b64_decode(&encoded)?))
    }
}

/// The token a leading `/` becomes ([`PathCodec`]).
const ROOT: &str = "_root_";

/// Path-style keys: `/` ↔ `.`; a leading `/` is the token `_root_`; a trailing `/` is
/// dropped.
///
/// ```
/// use gnat_kv::{KeyCodec, PathCodec};
/// assert_eq!(PathCodec.encode_key("user/profile/settings")?, "user.profile.settings");
/// assert_eq!(PathCodec.encode_key("/etc/hosts/")?, "_root_.etc.hosts");
/// assert_eq!(PathCodec.decode_key("_root_.etc.hosts")?, "/etc/hosts");
/// # Ok::<(), gnat_kv::Error>(())
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct PathCodec;

impl KeyCodec for PathCodec {
    fn encode_key(&self, key: &str) -> Result<String> {
        let (rooted, rest) = match key.strip_prefix('/') {
            Some("") => return Ok(ROOT.to_string()),
            Some(rest) => (true, rest),
            None => (false, key),
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest).replace('/', ".");
        Ok(if rooted {
            format!("{ROOT}.{rest}")
        } else {
            rest
        })
    }
    fn decode_key(&self, encoded: &str) -> Result<String> {
        if encoded == ROOT {
            return Ok("/".to_string());
        }
        if let Some(rest) = encoded.strip_prefix(ROOT).and_then(|r| r.strip_prefix('.')) {
            return Ok(format!("/{}", rest.replace('.', "/")));
        }
        Ok(encoded.replace('.', "/"))
    }
    fn encode_filter(&self, filter: &str) -> Result<String> {
        self.encode_key(filter)
    }
}

impl ValueCodec for PathCodec {
    fn encode_value(&self, value: Bytes) -> Result<Bytes> {
        Ok(value)
    }
    fn decode_value(&self, encoded: Bytes) -> Result<Bytes> {
        Ok(encoded)
    }
}

/// Key codecs applied in order when encoding, in reverse when decoding.
///
/// ```
/// use gnat_kv::{Base64Codec, KeyChain, KeyCodec, PathCodec};
/// let chain = KeyChain::new().then(PathCodec).then(Base64Codec);
/// assert_eq!(chain.encode_key("a b/c")?, "YSBi.Yw");
/// assert_eq!(chain.decode_key("YSBi.Yw")?, "a b/c");
/// # Ok::<(), gnat_kv::Error>(())
/// ```
#[derive(Clone, Default)]
pub struct KeyChain(Vec<Arc<dyn KeyCodec>>);

impl KeyChain {
    /// An empty chain (no change).
    pub fn new() -> Self {
        KeyChain(Vec::new())
    }
    /// The chain followed by `codec`.
    pub fn then(mut self, codec: impl KeyCodec) -> Self {
        self.0.push(Arc::new(codec));
        self
    }
}

impl KeyCodec for KeyChain {
    fn encode_key(&self, key: &str) -> Result<String> {
        self.0
            .iter()
            .try_fold(key.to_string(), |k, c| c.encode_key(&k))
    }
    fn decode_key(&self, encoded: &str) -> Result<String> {
        self.0
            .iter()
            .rev()
            .try_fold(encoded.to_string(), |k, c| c.decode_key(&k))
    }
    fn encode_filter(&self, filter: &str) -> Result<String> {
        self.0
            .iter()
            .try_fold(filter.to_string(), |f, c| c.encode_filter(&f))
    }
}

/// Value codecs applied in order when encoding, in reverse when decoding.
#[derive(Clone, Default)]
pub struct ValueChain(Vec<Arc<dyn ValueCodec>>);

impl ValueChain {
    /// An empty chain (no change).
    pub fn new() -> Self {
        ValueChain(Vec::new())
    }
    /// The chain followed by `codec`.
    pub fn then(mut self, codec: impl ValueCodec) -> Self {
        self.0.push(Arc::new(codec));
        self
    }
}

impl ValueCodec for ValueChain {
    fn encode_value(&self, value: Bytes) -> Result<Bytes> {
        self.0.iter().try_fold(value, |v, c| c.encode_value(v))
    }
    fn decode_value(&self, encoded: Bytes) -> Result<Bytes> {
        self.0
            .iter()
            .rev()
            .try_fold(encoded, |v, c| c.decode_value(v))
    }
}

fn map_tokens(s: &str, f: impl Fn(&str) -> String) -> String {
    s.split('.').map(f).collect::<Vec<_>>().join(".")
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// URL-safe base64 without padding (RFC 4648 §5).
fn b64_encode(input: &[u8]) -> String {
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for i in 0..chars {
            let idx = (n >> (18 - 6 * i)) & 63;
            out.push(char::from(B64[idx as usize]));
        }
    }
    out
}

/// Decodes URL-safe base64, padded or not.
fn b64_decode(input: &[u8]) -> Result<Vec<u8>> {
    let input = input
        .strip_suffix(b"==")
        .or_else(|| input.strip_suffix(b"="))
        .unwrap_or(input);
    let bad = || Error::new(ErrorKind::Codec, "invalid URL-safe base64");
    if input.len() % 4 == 1 {
        return Err(bad());
    }
    let mut out = Vec::with_capacity(input.len() / 4 * 3 + 2);
    for chunk in input.chunks(4) {
        let mut n = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            let v = match c {
                b'A'..=b'Z' => c - b'A',
                b'a'..=b'z' => c - b'a' + 26,
                b'0'..=b'9' => c - b'0' + 52,
                b'-' => 62,
                b'_' => 63,
                _ => return Err(bad()),
            };
            n |= u32::from(v) << (18 - 6 * i);
        }
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    Ok(out)
}

/// A [`Store`] seen through a key codec and a value codec (ADR-54). Cheap to clone.
///
/// ```no_run
/// # async fn demo(kv: gnat_kv::Store) -> gnat_kv::Result<()> {
/// use gnat_kv::{Base64Codec, NoOpCodec};
/// let files = kv.with_codecs(Base64Codec, NoOpCodec);
/// files.put("Acme Inc.contact", "info@acme.com").await?; // stored as QWNtZSBJbmM.Y29udGFjdA
/// assert_eq!(files.keys_matching("Acme Inc.*").await?, vec!["Acme Inc.contact"]);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct CodecStore {
    store: Store,
    keys: Arc<dyn KeyCodec>,
    values: Arc<dyn ValueCodec>,
}

impl Store {
    /// This bucket seen through `keys` and `values` codecs.
    pub fn with_codecs(&self, keys: impl KeyCodec, values: impl ValueCodec) -> CodecStore {
        CodecStore {
            store: self.clone(),
            keys: Arc::new(keys),
            values: Arc::new(values),
        }
    }

    /// This bucket with a key codec only.
    pub fn with_key_codec(&self, keys: impl KeyCodec) -> CodecStore {
        self.with_codecs(keys, NoOpCodec)
    }

    /// This bucket with a value codec only.
    pub fn with_value_codec(&self, values: impl ValueCodec) -> CodecStore {
        self.with_codecs(NoOpCodec, values)
    }
}

impl CodecStore {
    /// The store underneath (keys and values as stored).
    pub fn store(&self) -> &Store {
        &self.store
    }

    fn enc(&self, key: &str) -> Result<String> {
        self.keys.encode_key(key)
    }

    fn decode_entry(&self, mut e: Entry) -> Result<Entry> {
        e.key = Key::from(self.keys.decode_key(&e.key)?);
        if !e.operation.is_tombstone() && !e.value.is_empty() {
            e.value = self.values.decode_value(std::mem::take(&mut e.value))?;
        }
        Ok(e)
    }

    /// The latest value of `key`.
    pub async fn get(&self, key: impl AsRef<str>) -> Result<Option<Bytes>> {
        Ok(self.entry(key).await?.map(|e| e.value))
    }

    /// The latest entry of `key`, key and value decoded.
    pub async fn entry(&self, key: impl AsRef<str>) -> Result<Option<Entry>> {
        let stored = self.store.entry(self.enc(key.as_ref())?).await?;
        stored.map(|e| self.decode_entry(e)).transpose()
    }

    /// Puts `value` under `key`, both encoded; returns the revision.
    pub async fn put(&self, key: impl AsRef<str>, value: impl Into<Bytes>) -> Result<u64> {
        let value = self.values.encode_value(value.into())?;
        self.store.put(self.enc(key.as_ref())?, value).await
    }

    /// As [`Store::create`], encoded.
    pub async fn create(&self, key: impl AsRef<str>, value: impl Into<Bytes>) -> Result<u64> {
        let value = self.values.encode_value(value.into())?;
        self.store.create(self.enc(key.as_ref())?, value).await
    }

    /// As [`Store::update`], encoded.
    pub async fn update(
        &self,
        key: impl AsRef<str>,
        value: impl Into<Bytes>,
        revision: u64,
    ) -> Result<u64> {
        let value = self.values.encode_value(value.into())?;
        self.store
            .update(self.enc(key.as_ref())?, value, revision)
            .await
    }

    /// As [`Store::delete`], the key encoded.
    pub async fn delete(&self, key: impl AsRef<str>) -> Result<u64> {
        self.store.delete(self.enc(key.as_ref())?).await
    }

    /// As [`Store::purge`], the key encoded.
    pub async fn purge(&self, key: impl AsRef<str>) -> Result<u64> {
        self.store.purge(self.enc(key.as_ref())?).await
    }

    /// The history of `key`, decoded.
    pub async fn history(&self, key: impl AsRef<str>) -> Result<Vec<Entry>> {
        let stored = self.store.history(self.enc(key.as_ref())?).await?;
        stored.into_iter().map(|e| self.decode_entry(e)).collect()
    }

    /// Every key with a current value, decoded.
    pub async fn keys(&self) -> Result<Vec<String>> {
        self.keys_matching(">").await
    }

    /// The keys matching `filter` (written as the application's keys, wildcards kept),
    /// decoded.
    pub async fn keys_matching(&self, filter: impl AsRef<str>) -> Result<Vec<String>> {
        let filter = self.keys.encode_filter(filter.as_ref())?;
        let stored = self.store.keys_matching([filter]).await?;
        stored.iter().map(|k| self.keys.decode_key(k)).collect()
    }

    /// Watches the keys matching `filter` (encoded keeping wildcards); entries arrive
    /// decoded.
    pub async fn watch(&self, filter: impl AsRef<str>) -> Result<CodecWatcher> {
        self.watch_with(filter, WatchOptions::new()).await
    }

    /// As [`CodecStore::watch`] with options.
    pub async fn watch_with(
        &self,
        filter: impl AsRef<str>,
        options: WatchOptions,
    ) -> Result<CodecWatcher> {
        let filter = self.keys.encode_filter(filter.as_ref())?;
        let inner = self.store.watch_with([filter], options).await?;
        Ok(CodecWatcher {
            inner,
            codecs: self.clone(),
        })
    }
}

impl std::fmt::Debug for CodecStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CodecStore")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

/// A [`Watcher`] whose entries are decoded by a [`CodecStore`]'s codecs.
pub struct CodecWatcher {
    inner: Watcher,
    codecs: CodecStore,
}

impl CodecWatcher {
    /// The next event, or `None` when the watcher ended.
    pub async fn next(&mut self) -> Option<Result<WatchEvent>> {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await
    }
}

impl Stream for CodecWatcher {
    type Item = Result<WatchEvent>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        Pin::new(&mut this.inner).poll_next(cx).map(|item| {
            item.map(|r| match r? {
                WatchEvent::Entry(e) => this.codecs.decode_entry(e).map(WatchEvent::Entry),
                other => Ok(other),
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_reference_codec() {
        // RFC 4648 test vectors, URL-safe alphabet, no padding.
        for (plain, enc) in [
            ("", ""),
            ("f", "Zg"),
            ("fo", "Zm8"),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg"),
            ("fooba", "Zm9vYmE"),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(b64_encode(plain.as_bytes()), enc);
            assert_eq!(b64_decode(enc.as_bytes()).unwrap(), plain.as_bytes());
        }
        assert_eq!(b64_encode(&[0xfb, 0xff]), "-_8");
        assert_eq!(b64_decode(b"-_8").unwrap(), [0xfb, 0xff]);
        // Padded input decodes too (the ADR's example value).
        assert_eq!(
            b64_decode(b"QWNtZSBJbmMuY29udGFjdA==").unwrap(),
            b"Acme Inc.contact"
        );
        assert!(b64_decode(b"a").is_err() && b64_decode(b"a+b/").is_err());
        // ADR-54's key example, per token as the Go reference encodes it.
        let k = Base64Codec.encode_key("Acme Inc.contact").unwrap();
        assert_eq!(k.as_bytes(), b"QWNtZSBJbmM.Y29udGFjdA");
        assert_eq!(Base64Codec.decode_key(&k).unwrap(), "Acme Inc.contact");
        assert_eq!(
            Base64Codec.encode_filter("Acme Inc.*.>").unwrap(),
            "QWNtZSBJbmM.*.>"
        );
    }

    #[test]
    fn path_codec_round_trips() {
        let p = PathCodec;
        for (path, key) in [
            ("user/profile/settings", "user.profile.settings"),
            ("/", "_root_"),
            ("/etc/hosts", "_root_.etc.hosts"),
            ("a/b/", "a.b"),
            ("plain", "plain"),
        ] {
            assert_eq!(p.encode_key(path).unwrap().as_bytes(), key.as_bytes());
        }
        assert_eq!(p.decode_key("_root_.etc.hosts").unwrap(), "/etc/hosts");
        assert_eq!(p.decode_key("_root_").unwrap(), "/");
        assert_eq!(p.decode_key("a.b").unwrap(), "a/b");
        assert_eq!(p.encode_filter("users/*/name").unwrap(), "users.*.name");
    }

    #[test]
    fn chains_run_forward_then_backward() {
        let keys = KeyChain::new().then(PathCodec).then(Base64Codec);
        assert_eq!(keys.encode_key("/a b/c").unwrap(), "X3Jvb3Rf.YSBi.Yw");
        assert_eq!(keys.decode_key("X3Jvb3Rf.YSBi.Yw").unwrap(), "/a b/c");
        assert_eq!(keys.encode_filter("x/>").unwrap(), "eA.>");
        let values = ValueChain::new().then(Base64Codec).then(Base64Codec);
        let enc = values.encode_value(Bytes::from_static(b"hi")).unwrap();
        assert_eq!(&enc[..], b"YUdr");
        assert_eq!(&values.decode_value(enc).unwrap()[..], b"hi");
        // A custom codec without wildcard support refuses wildcard filters.
        struct Upper;
        impl KeyCodec for Upper {
            fn encode_key(&self, key: &str) -> Result<String> {
                Ok(key.to_uppercase())
            }
            fn decode_key(&self, encoded: &str) -> Result<String> {
                Ok(encoded.to_lowercase())
            }
        }
        assert_eq!(Upper.encode_filter("a.b").unwrap(), "A.B");
        assert!(Upper.encode_filter("a.*").is_err());
    }
}
