//! Writes (spec §5.5): put, create, update, delete, purge, revert. Each is one JetStream
//! publish to `<write prefix><key>` whose ack sequence is the new revision; create after a
//! delete or purge takes a second one.

use std::time::Duration;

use bytes::Bytes;
use jetstream::client::{HeaderMap, Request};
use jetstream::{ApiError, ErrorKind as JsErrorKind};
use serde::Deserialize;

use crate::entry::KV_OPERATION;
use crate::error::{Error, ErrorKind, Result};
use crate::name::validate_write_key;
use crate::store::Store;

const EXPECTED_LAST_SUBJECT_SEQUENCE: &str = "Nats-Expected-Last-Subject-Sequence";
const TTL: &str = "Nats-TTL";
const ROLLUP: &str = "Nats-Rollup";

/// Retries while no stream answers a write (ADR-22), and the wait between them.
const NO_STREAM_RETRIES: u32 = 2;
const NO_STREAM_RETRY_WAIT: Duration = Duration::from_millis(250);

/// Options of [`Store::purge_with`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PurgeOptions {
    /// Purge only if the key's latest revision is this one.
    pub expected_revision: Option<u64>,
    /// The purge entry itself expires after this long (the bucket needs limit markers).
    pub ttl: Option<Duration>,
}

impl PurgeOptions {
    /// No expectation, no TTL.
    pub fn new() -> Self {
        Self::default()
    }

    /// Purge only if the key's latest revision is `revision`.
    pub fn expected_revision(mut self, revision: u64) -> Self {
        self.expected_revision = Some(revision);
        self
    }

    /// Let the purge entry expire after `ttl`.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }
}

/// A publish ack, or the error object in its place. Unknown fields (`stream`, `domain` …)
/// are skipped without being copied.
#[derive(Deserialize)]
struct Ack {
    #[serde(default)]
    error: Option<ApiError>,
    #[serde(default)]
    seq: Option<u64>,
}

fn parse_ack(headers: Option<&HeaderMap>, payload: &[u8]) -> jetstream::Result<u64> {
    if let Some(h) = headers
        && let Some(status) = h.status()
    {
        return Err(jetstream::Error::from_status(
            status.as_u16(),
            h.description().unwrap_or_default(),
        ));
    }
    let ack: Ack = serde_json::from_slice(payload)?;
    if let Some(api) = ack.error {
        return Err(jetstream::Error::from_api(api));
    }
    ack.seq
        .ok_or_else(|| jetstream::Error::new(JsErrorKind::Decode, "publish ack without a seq"))
}

/// Header block builder for writes (names and values are ours, so inserting cannot fail,
/// but a failure is still reported, never unwrapped).
#[derive(Default)]
struct Headers(Option<HeaderMap>);

impl Headers {
    fn set(mut self, name: &str, value: &str) -> Result<Self> {
        self.0
            .get_or_insert_with(HeaderMap::new)
            .insert(name, value)
            .map_err(|e| Error::new(ErrorKind::InvalidInput, format!("header {name}: {e}")))?;
        Ok(self)
    }

    fn expect(self, revision: Option<u64>) -> Result<Self> {
        match revision {
            Some(r) => self.set(EXPECTED_LAST_SUBJECT_SEQUENCE, &r.to_string()),
            None => Ok(self),
        }
    }

    fn ttl(self, ttl: Option<Duration>) -> Result<Self> {
        match ttl {
            Some(d) => self.set(TTL, &jetstream::time::go_duration(d)),
            None => Ok(self),
        }
    }
}

impl Store {
    /// Publishes one write and returns the stored revision.
    async fn write(
        &self,
        key: &str,
        payload: Bytes,
        headers: Option<HeaderMap>,
    ) -> jetstream::Result<u64> {
        let inner = &self.inner;
        let mut subject = String::with_capacity(inner.write_prefix.len() + key.len());
        subject.push_str(&inner.write_prefix);
        subject.push_str(key);
        let mut request = Request::new().payload(payload).timeout(inner.ctx.timeout());
        if let Some(h) = headers {
            request = request.headers(h);
        }
        let client = inner.ctx.client();
        let mut attempt = 0;
        loop {
            let last = attempt >= NO_STREAM_RETRIES;
            let this_try = if last {
                std::mem::take(&mut request)
            } else {
                request.clone()
            };
            match client.send_request(&subject, this_try).await {
                Ok(reply) => return parse_ack(reply.headers.as_ref(), &reply.payload),
                Err(e) if e.is_no_responders() => {
                    if last {
                        return Err(jetstream::Error::new(
                            JsErrorKind::NoStream,
                            format!("no stream answered a write to {subject} (no responders)"),
                        ));
                    }
                    tokio::time::sleep(NO_STREAM_RETRY_WAIT).await;
                    attempt += 1;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// A write that expects a revision: a wrong last sequence becomes
    /// [`ErrorKind::WrongLastRevision`].
    async fn write_expecting(
        &self,
        key: &str,
        payload: Bytes,
        headers: Headers,
        expected: Option<u64>,
    ) -> Result<u64> {
        match self.write(key, payload, headers.0).await {
            Ok(revision) => Ok(revision),
            Err(e) if expected.is_some() && e.is_wrong_last_sequence() => Err(Error::with_source(
                ErrorKind::WrongLastRevision,
                format!(
                    "key {key}: the latest revision is not {}",
                    expected.unwrap_or_default()
                ),
                e,
            )),
            Err(e) => Err(e.into()),
        }
    }

    /// Puts `value` under `key`; returns the new revision.
    pub async fn put(&self, key: &str, value: impl Into<Bytes>) -> Result<u64> {
        validate_write_key(key)?;
        Ok(self.write(key, value.into(), None).await?)
    }

    /// Puts `value` under `key` only if the key has no current value (never written, or its
    /// latest entry is a delete or purge); returns the new revision. Fails with
    /// [`Error::is_key_exists`] otherwise.
    pub async fn create(&self, key: &str, value: impl Into<Bytes>) -> Result<u64> {
        self.create_inner(key, value.into(), None).await
    }

    /// As [`Store::create`], and the value expires after `ttl` (sub-second precision; the
    /// bucket needs limit markers). The TTL is kept when the key had been deleted or purged
    /// before.
    pub async fn create_with_ttl(
        &self,
        key: &str,
        value: impl Into<Bytes>,
        ttl: Duration,
    ) -> Result<u64> {
        self.create_inner(key, value.into(), Some(ttl)).await
    }

    async fn create_inner(&self, key: &str, value: Bytes, ttl: Option<Duration>) -> Result<u64> {
        validate_write_key(key)?;
        let headers = Headers::default().expect(Some(0))?.ttl(ttl)?;
        let first = match self.write(key, value.clone(), headers.0).await {
            Ok(revision) => return Ok(revision),
            Err(e) if e.is_wrong_last_sequence() => e,
            Err(e) => return Err(e.into()),
        };
        // Something is stored under the key. If it is a tombstone, write over it, expecting
        // exactly that tombstone, with the same TTL.
        let key_exists = |e| {
            Error::with_source(
                ErrorKind::KeyExists,
                format!("key {key} exists in bucket {}", self.bucket()),
                e,
            )
        };
        match self.latest_consistent(key).await? {
            Some(latest) if latest.operation.is_tombstone() => {
                let headers = Headers::default().expect(Some(latest.revision))?.ttl(ttl)?;
                match self.write(key, value, headers.0).await {
                    Ok(revision) => Ok(revision),
                    Err(e) if e.is_wrong_last_sequence() => Err(key_exists(e)),
                    Err(e) => Err(e.into()),
                }
            }
            _ => Err(key_exists(first)),
        }
    }

    /// Puts `value` under `key` only if the key's latest revision is `revision` (0: the key
    /// has never been written, or was purged); returns the new revision. Fails with
    /// [`Error::is_wrong_last_revision`] otherwise.
    pub async fn update(&self, key: &str, value: impl Into<Bytes>, revision: u64) -> Result<u64> {
        self.update_inner(key, value.into(), revision, None).await
    }

    /// As [`Store::update`], and the new value expires after `ttl` (the bucket needs limit
    /// markers). With history above 1, an expired value uncovers the one before it.
    pub async fn update_with_ttl(
        &self,
        key: &str,
        value: impl Into<Bytes>,
        revision: u64,
        ttl: Duration,
    ) -> Result<u64> {
        self.update_inner(key, value.into(), revision, Some(ttl))
            .await
    }

    async fn update_inner(
        &self,
        key: &str,
        value: Bytes,
        revision: u64,
        ttl: Option<Duration>,
    ) -> Result<u64> {
        validate_write_key(key)?;
        let headers = Headers::default().expect(Some(revision))?.ttl(ttl)?;
        self.write_expecting(key, value, headers, Some(revision))
            .await
    }

    /// Deletes `key`, keeping its history (a `DEL` entry); returns the delete's revision.
    pub async fn delete(&self, key: &str) -> Result<u64> {
        self.delete_inner(key, None).await
    }

    /// Deletes `key` only if its latest revision is `revision`.
    pub async fn delete_expecting(&self, key: &str, revision: u64) -> Result<u64> {
        self.delete_inner(key, Some(revision)).await
    }

    async fn delete_inner(&self, key: &str, expected: Option<u64>) -> Result<u64> {
        validate_write_key(key)?;
        let headers = Headers::default()
            .set(KV_OPERATION, "DEL")?
            .expect(expected)?;
        self.write_expecting(key, Bytes::new(), headers, expected)
            .await
    }

    /// Purges `key`: a `PURGE` entry replaces its whole history; returns its revision.
    pub async fn purge(&self, key: &str) -> Result<u64> {
        self.purge_with(key, PurgeOptions::new()).await
    }

    /// Purges `key` with an expected revision and/or a TTL on the purge entry.
    pub async fn purge_with(&self, key: &str, options: PurgeOptions) -> Result<u64> {
        validate_write_key(key)?;
        let headers = Headers::default()
            .set(KV_OPERATION, "PURGE")?
            .set(ROLLUP, "sub")?
            .expect(options.expected_revision)?
            .ttl(options.ttl)?;
        self.write_expecting(key, Bytes::new(), headers, options.expected_revision)
            .await
    }

    /// Puts the value `key` had at `revision` back as its newest value, provided nothing else
    /// is written to the key meanwhile; returns the new revision. Fails with
    /// [`Error::is_key_not_found`] when that revision is not a value of `key`.
    pub async fn revert(&self, key: &str, revision: u64) -> Result<u64> {
        validate_write_key(key)?;
        let Some(old) = self.entry_at(key, revision).await? else {
            return Err(Error::new(
                ErrorKind::KeyNotFound,
                format!("key {key} has no value at revision {revision}"),
            ));
        };
        let current = self.latest_consistent(key).await?.map_or(0, |e| e.revision);
        self.update(key, old.value, current).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jetstream::client::StatusCode;

    fn reply(payload: &'static str, headers: Option<HeaderMap>) -> jetstream::Result<u64> {
        parse_ack(headers.as_ref(), payload.as_bytes())
    }

    #[test]
    fn acks() {
        assert_eq!(reply(r#"{"stream":"KV_B","seq":7}"#, None).unwrap(), 7);
        assert_eq!(
            reply(r#"{"stream":"KV_B","domain":"hub","seq":8,"x":[1]}"#, None).unwrap(),
            8
        );
        let e = reply(
            r#"{"error":{"code":400,"err_code":10071,"description":"wrong last sequence: 2"}}"#,
            None,
        )
        .unwrap_err();
        assert!(e.is_wrong_last_sequence());
        assert!(reply(r#"{"stream":"KV_B"}"#, None).is_err());
        assert!(reply("not json", None).is_err());
        let status = HeaderMap::with_status(StatusCode::REQUEST_TIMEOUT, Some("Timeout"));
        assert_eq!(reply("", Some(status)).unwrap_err().code(), Some(408));
    }

    #[test]
    fn write_headers() {
        let h = Headers::default()
            .set(KV_OPERATION, "PURGE")
            .unwrap()
            .set(ROLLUP, "sub")
            .unwrap()
            .expect(Some(3))
            .unwrap()
            .ttl(Some(Duration::from_millis(1500)))
            .unwrap()
            .0
            .unwrap();
        let got: Vec<(&str, &str)> = h.iter().collect();
        assert_eq!(
            got,
            vec![
                ("KV-Operation", "PURGE"),
                ("Nats-Rollup", "sub"),
                ("Nats-Expected-Last-Subject-Sequence", "3"),
                ("Nats-TTL", "1.5s"),
            ]
        );
        assert!(Headers::default().expect(None).unwrap().0.is_none());
    }
}
