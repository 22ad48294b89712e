//! Distributed counters (ADR-49, nats-server 2.12+): on a stream with `allow_msg_counter`,
//! every subject is a counter. A publish with `Nats-Incr: +5` (or `-3`, of any size) and no
//! payload makes the stream load the subject's last value, add the increment, and store the
//! sum as `{"val":"…"}`; the ack carries the new value. A stream that sources counters from
//! others keeps, in `Nats-Counter-Sources`, the last value seen from each source stream and
//! subject, so the total stays right whatever order the sourced messages arrive in.
//!
//! Values are decimal strings on the wire because they may exceed any machine integer;
//! [`CounterValue`] keeps them exactly, checks their syntax, and converts to `i64`/`i128`
//! when they fit.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use client::HeaderMap;
use serde::Deserialize;

use crate::context::Context;
use crate::error::{Error, ErrorKind, Result};
use crate::message::{StoredMessage, UpTo};
use crate::publish::PublishOptions;

const INCR: &str = "Nats-Incr";
const COUNTER_SOURCES: &str = "Nats-Counter-Sources";

/// The most digits a counter value may have here. Far beyond any real counter, and a bound
/// on what a reply from the server can make us keep.
pub const MAX_COUNTER_DIGITS: usize = 4096;

/// An integer of any size, as counters carry it: a sign and decimal digits, kept exactly
/// (normalised: no `+`, no leading zeros, no `-0`).
///
/// ```
/// use gnat_jetstream::CounterValue;
/// let big: CounterValue = "+000123456789012345678901234567890".parse().unwrap();
/// assert_eq!(big.as_str(), "123456789012345678901234567890");
/// assert_eq!(big.to_i128(), Some(123456789012345678901234567890));
/// assert_eq!(CounterValue::from(-5).to_string(), "-5");
/// assert!("1.5".parse::<CounterValue>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CounterValue(String);

impl CounterValue {
    /// Zero.
    pub fn zero() -> Self {
        CounterValue("0".to_string())
    }

    /// Parses `[+-]digits` (at most [`MAX_COUNTER_DIGITS`] digits).
    pub fn parse(text: &str) -> Result<Self> {
        let (negative, digits) = match text.as_bytes().first() {
            Some(b'-') => (true, &text[1..]),
            Some(b'+') => (false, &text[1..]),
            _ => (false, text),
        };
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!("counter value {:?} is not an integer", preview(text)),
            ));
        }
        let digits = digits.trim_start_matches('0');
        if digits.len() > MAX_COUNTER_DIGITS {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!("counter value has more than {MAX_COUNTER_DIGITS} digits"),
            ));
        }
        Ok(CounterValue(match (digits.is_empty(), negative) {
            (true, _) => "0".to_string(),
            (false, true) => format!("-{digits}"),
            (false, false) => digits.to_string(),
        }))
    }

    /// The decimal text (`-` for negatives, no `+`).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// True below zero.
    pub fn is_negative(&self) -> bool {
        self.0.starts_with('-')
    }

    /// True for zero.
    pub fn is_zero(&self) -> bool {
        self.0 == "0"
    }

    /// The value as an `i64`, when it fits.
    pub fn to_i64(&self) -> Option<i64> {
        self.0.parse().ok()
    }

    /// The value as an `i128`, when it fits.
    pub fn to_i128(&self) -> Option<i128> {
        self.0.parse().ok()
    }

    /// The `Nats-Incr` form: always signed (`+5`, `-3`, `+0`).
    fn as_increment(&self) -> String {
        if self.is_negative() {
            self.0.clone()
        } else {
            format!("+{}", self.0)
        }
    }
}

fn preview(text: &str) -> &str {
    match text.char_indices().nth(40) {
        Some((at, _)) => &text[..at],
        None => text,
    }
}

impl fmt::Display for CounterValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for CounterValue {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

impl TryFrom<&str> for CounterValue {
    type Error = Error;
    fn try_from(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

macro_rules! counter_from_int {
    ($($t:ty),*) => {$(
        impl From<$t> for CounterValue {
            fn from(v: $t) -> Self {
                CounterValue(v.to_string())
            }
        }
    )*};
}
counter_from_int!(
    i8, i16, i32, i64, i128, isize, u8, u16, u32, u64, u128, usize
);

/// One counter as read from the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CounterEntry {
    /// The counter's subject.
    pub subject: String,
    /// Its value.
    pub value: CounterValue,
    /// The increment of the last update (`Nats-Incr`), for audits and recounts.
    pub increment: Option<CounterValue>,
    /// For a counter fed by sourced streams: the last value seen from each source stream,
    /// per original subject (`Nats-Counter-Sources`). Empty otherwise.
    pub sources: BTreeMap<String, BTreeMap<String, CounterValue>>,
    /// The stream sequence of the message holding the value.
    pub sequence: u64,
}

#[derive(Deserialize)]
struct ValueBody<'a> {
    #[serde(borrow)]
    val: std::borrow::Cow<'a, str>,
}

impl CounterEntry {
    /// Reads a counter message: `{"val":"…"}` and its headers.
    pub fn from_message(msg: &StoredMessage) -> Result<Self> {
        let body: ValueBody<'_> = serde_json::from_slice(&msg.payload).map_err(|e| {
            Error::new(
                ErrorKind::Decode,
                format!("counter {} has no value: {e}", msg.subject),
            )
        })?;
        let value = decoded(CounterValue::parse(&body.val))?;
        let headers = msg.headers.as_ref();
        let increment = headers
            .and_then(|h| h.get(INCR))
            .map(|v| decoded(CounterValue::parse(v)))
            .transpose()?;
        let mut sources = BTreeMap::new();
        if let Some(text) = headers.and_then(|h| h.get(COUNTER_SOURCES)) {
            let raw: BTreeMap<String, BTreeMap<String, String>> = serde_json::from_str(text)
                .map_err(|e| Error::new(ErrorKind::Decode, format!("{COUNTER_SOURCES}: {e}")))?;
            for (stream, subjects) in raw {
                let mut values = BTreeMap::new();
                for (subject, v) in subjects {
                    values.insert(subject, decoded(CounterValue::parse(&v))?);
                }
                sources.insert(stream, values);
            }
        }
        Ok(CounterEntry {
            subject: msg.subject.clone(),
            value,
            increment,
            sources,
            sequence: msg.sequence,
        })
    }
}

/// A value from the server that does not parse is a decode error, not the caller's.
fn decoded(r: Result<CounterValue>) -> Result<CounterValue> {
    r.map_err(|e| Error::new(ErrorKind::Decode, format!("counter from the server: {e}")))
}

/// The counters of one stream (`allow_msg_counter` and `allow_direct`).
///
/// ```no_run
/// # async fn demo(js: gnat_jetstream::Context) -> Result<(), gnat_jetstream::Error> {
/// use gnat_jetstream::{CounterValue, StreamConfig};
/// js.create_stream(
///     StreamConfig::new("HITS")
///         .subjects(["hits.>"])
///         .allow_msg_counter(true)
///         .allow_direct(true),
/// )
/// .await?;
/// let hits = js.counter("HITS").await?;
/// assert_eq!(hits.add("hits.home", 5).await?.to_i64(), Some(5));
/// let huge: CounterValue = "-100000000000000000000000000000000000000000".parse()?;
/// hits.add("hits.home", huge).await?;
/// let entry = hits.get("hits.home").await?;
/// println!("{} = {}", entry.subject, entry.value);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Counter {
    ctx: Context,
    stream: String,
}

impl Context {
    /// The counters of `stream`, after checking that the stream allows counters and direct
    /// gets (ADR-49).
    pub async fn counter(&self, stream: &str) -> Result<Counter> {
        self.require_api_level(2, "counters").await?;
        let info = self.stream_info(stream).await?;
        if info.config.allow_msg_counter != Some(true) {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!("stream {stream} does not allow counters (allow_msg_counter)"),
            ));
        }
        if info.config.allow_direct != Some(true) {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!("stream {stream} does not allow direct gets (allow_direct)"),
            ));
        }
        Ok(Counter {
            ctx: self.clone(),
            stream: stream.to_string(),
        })
    }

    /// Adds `delta` (negative to subtract) to the counter on `subject` and returns the new
    /// value from the ack. The stream capturing `subject` needs `allow_msg_counter`; others
    /// refuse with 10168 ([`Error::is_counter_error`]).
    pub async fn counter_add(
        &self,
        subject: impl AsRef<str>,
        delta: impl Into<CounterValue>,
    ) -> Result<CounterValue> {
        self.require_api_level(2, "counters").await?;
        let mut headers = HeaderMap::new();
        headers
            .insert(INCR, &delta.into().as_increment())
            .map_err(|e| Error::new(ErrorKind::InvalidInput, format!("{INCR}: {e}")))?;
        let ack = self
            .publish_with(subject, PublishOptions::new().headers(headers))
            .await?;
        match ack.value {
            Some(v) => decoded(CounterValue::parse(&v)),
            None => Err(Error::new(
                ErrorKind::Decode,
                format!(
                    "the ack of {} has no counter value (is allow_msg_counter on?)",
                    ack.stream
                ),
            )),
        }
    }
}

impl Counter {
    /// The stream's name.
    pub fn stream(&self) -> &str {
        &self.stream
    }

    /// Adds `delta` to the counter on `subject`; returns the new value.
    pub async fn add(
        &self,
        subject: impl AsRef<str>,
        delta: impl Into<CounterValue>,
    ) -> Result<CounterValue> {
        self.ctx.counter_add(subject, delta).await
    }

    /// The counter on `subject`, with its last increment and sources. A subject never
    /// incremented fails with [`Error::is_no_message`].
    pub async fn get(&self, subject: impl AsRef<str>) -> Result<CounterEntry> {
        let msg = self
            .ctx
            .direct_get_last(&self.stream, subject.as_ref())
            .await?;
        CounterEntry::from_message(&msg)
    }

    /// The value on `subject`, zero when it was never incremented.
    pub async fn value(&self, subject: impl AsRef<str>) -> Result<CounterValue> {
        match self.get(subject).await {
            Ok(entry) => Ok(entry.value),
            Err(e) if e.is_no_message() => Ok(CounterValue::zero()),
            Err(e) => Err(e),
        }
    }

    /// Every counter matching `subjects` (wildcards allowed), read at one point in time with
    /// one batched direct get; counters never incremented are absent.
    pub async fn get_many(&self, subjects: &[&str]) -> Result<Vec<CounterEntry>> {
        self.ctx
            .direct_get_multi_last(&self.stream, subjects, UpTo::Latest)
            .await?
            .iter()
            .map(CounterEntry::from_message)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn values_parse_and_normalise() {
        let v = |s: &str| CounterValue::parse(s).map(|v| v.0);
        assert_eq!(v("+5").unwrap(), "5");
        assert_eq!(v("-0007").unwrap(), "-7");
        assert_eq!(v("-0").unwrap(), "0");
        assert_eq!(v("000").unwrap(), "0");
        for bad in ["", "+", "-", "1.0", " 1", "1 ", "0x10", "--1", "1e3"] {
            assert!(v(bad).is_err(), "{bad:?}");
        }
        assert!(v(&"9".repeat(MAX_COUNTER_DIGITS + 1)).is_err());
        assert!(v(&"9".repeat(MAX_COUNTER_DIGITS)).is_ok());
        let big = CounterValue::parse("340282366920938463463374607431768211456").unwrap();
        assert_eq!(big.to_i128(), None);
        assert_eq!(CounterValue::from(u128::MAX).to_i128(), None);
        assert_eq!(CounterValue::from(-3).as_increment(), "-3");
        assert_eq!(CounterValue::from(0).as_increment(), "+0");
        assert_eq!(CounterValue::from(12u8).as_increment(), "+12");
        assert!(CounterValue::from(-1).is_negative() && CounterValue::zero().is_zero());
    }

    #[test]
    fn entries_read_value_increment_and_sources() {
        let mut headers = HeaderMap::new();
        headers.insert(INCR, "-2").unwrap();
        headers
            .insert(
                COUNTER_SOURCES,
                r#"{"A":{"c.x":"10"},"B":{"c.x":"-4","c.y":"1"}}"#,
            )
            .unwrap();
        let msg = StoredMessage {
            subject: "c.x".into(),
            sequence: 9,
            headers: Some(headers),
            payload: Bytes::from_static(br#"{"val":"99999999999999999999999"}"#),
            ..StoredMessage::default()
        };
        let e = CounterEntry::from_message(&msg).unwrap();
        assert_eq!(e.value.as_str(), "99999999999999999999999");
        assert_eq!(e.increment.unwrap().as_str(), "-2");
        assert_eq!(e.sources["B"]["c.x"].as_str(), "-4");
        assert_eq!(e.sources.len(), 2);
        for bad in [&br#"{"val":"x"}"#[..], b"{}", b"not json", br#"{"val":1}"#] {
            let msg = StoredMessage {
                payload: Bytes::copy_from_slice(bad),
                ..StoredMessage::default()
            };
            let err = CounterEntry::from_message(&msg).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Decode);
        }
    }
}
