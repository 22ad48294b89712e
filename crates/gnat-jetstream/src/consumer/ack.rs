//! Messages delivered by a consumer: their metadata (parsed from the `$JS.ACK` reply subject)
//! and acknowledgements.

use std::ops::Deref;
use std::time::Duration;

use bytes::Bytes;
use client::{Client, Message};

use crate::consumer::pull::{Fetch, PullRequest};
use crate::error::{Error, ErrorKind, Result};
use crate::time::Timestamp;

/// A message a consumer delivered. It dereferences to the [`client::Message`] (subject,
/// headers, payload); [`JsMessage::info`] reads its JetStream metadata and the `ack*`
/// methods acknowledge it.
#[derive(Clone, Debug)]
pub struct JsMessage {
    message: Message,
    client: Client,
}

/// JetStream metadata of a delivered message, from its reply subject.
///
/// The subject has one of two shapes (ADR-15):
/// `$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<timestamp>.<pending>`
/// or, with domain and account hash,
/// `$JS.ACK.<domain>.<account hash>.<stream>.<consumer>.<delivered>.<stream seq>.<consumer
/// seq>.<timestamp>.<pending>[.<more>…]` (domain `_` = none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct MessageInfo<'a> {
    /// The JetStream domain, if the subject names one.
    pub domain: Option<&'a str>,
    /// The account hash (v2 subjects only).
    pub account_hash: Option<&'a str>,
    /// The stream.
    pub stream: &'a str,
    /// The consumer.
    pub consumer: &'a str,
    /// How many times this message has been delivered (1 the first time).
    pub delivered: u64,
    /// Its sequence in the stream.
    pub stream_sequence: u64,
    /// Its sequence in the consumer.
    pub consumer_sequence: u64,
    /// When it was stored.
    pub published: Timestamp,
    /// Messages still to deliver after this one (for the consumer's filters).
    pub pending: u64,
}

/// Digits only (`str::parse` would accept a leading `+`), without overflow.
fn number(token: &str) -> Option<u64> {
    if token.is_empty() || !token.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    token.parse().ok()
}

impl<'a> MessageInfo<'a> {
    /// Parses an ack subject; `None` when it does not have one of the two shapes.
    pub fn parse(reply: &'a str) -> Option<Self> {
        let mut tokens = reply.split('.');
        if tokens.next()? != "$JS" || tokens.next()? != "ACK" {
            return None;
        }
        let rest: Vec<&str> = tokens.collect();
        let (domain, account_hash, fields) = match rest.as_slice() {
            fields @ [_, _, _, _, _, _, _] => (None, None, fields),
            [domain, hash, fields @ ..] if fields.len() >= 7 => {
                (Some(*domain).filter(|d| *d != "_"), Some(*hash), fields)
            }
            _ => return None,
        };
        let [stream, consumer, delivered, sseq, cseq, ts, pending, ..] = fields else {
            return None;
        };
        if stream.is_empty() || consumer.is_empty() {
            return None;
        }
        if domain.is_some_and(str::is_empty) || account_hash.is_some_and(str::is_empty) {
            return None;
        }
        Some(MessageInfo {
            domain,
            account_hash,
            stream,
            consumer,
            delivered: number(delivered)?,
            stream_sequence: number(sseq)?,
            consumer_sequence: number(cseq)?,
            published: Timestamp::from_unix_nanos(i128::from(number(ts)?)),
            pending: number(pending)?,
        })
    }
}

impl JsMessage {
    /// Wraps a message that a consumer delivered on `client`.
    pub fn new(client: Client, message: Message) -> Self {
        JsMessage { message, client }
    }

    /// The underlying message.
    pub fn message(&self) -> &Message {
        &self.message
    }

    /// The underlying message, unwrapped.
    pub fn into_message(self) -> Message {
        self.message
    }

    /// The client it arrived on.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Its JetStream metadata. Fails with [`ErrorKind::NotJetStream`] when the reply subject
    /// is missing or is not an ack subject of a known shape.
    pub fn info(&self) -> Result<MessageInfo<'_>> {
        let reply =
            self.message.reply.as_deref().ok_or_else(|| {
                Error::new(ErrorKind::NotJetStream, "message has no reply subject")
            })?;
        MessageInfo::parse(reply).ok_or_else(|| {
            Error::new(
                ErrorKind::NotJetStream,
                format!("{reply:?} is not a JetStream ack subject"),
            )
        })
    }

    fn reply(&self) -> Result<&str> {
        self.message
            .reply
            .as_deref()
            .ok_or_else(|| Error::new(ErrorKind::NotJetStream, "message has no reply subject"))
    }

    async fn send(&self, body: impl Into<Bytes>) -> Result<()> {
        let reply = self.reply()?;
        self.client.publish(reply, body).await?;
        Ok(())
    }

    /// Acknowledges it (`+ACK`). Returns once the ack is queued for the server; see
    /// [`JsMessage::double_ack`] for a confirmed one.
    pub async fn ack(&self) -> Result<()> {
        self.send(Bytes::from_static(b"+ACK")).await
    }

    /// Acknowledges it and waits for the server's confirmation (the ack is sent as a request;
    /// the server answers once it has recorded it), up to the client's request timeout.
    ///
    /// A late ack (after `ack_wait`, once the message was redelivered) cannot be told apart:
    /// nats-server 2.15 accepts it, acknowledges the message, and confirms it with the same
    /// empty reply as an ack in time or a repeated ack (seen in tests against the server).
    /// Compare [`MessageInfo::delivered`] with what you expect if a redelivery matters.
    pub async fn double_ack(&self) -> Result<()> {
        let reply = self.reply()?;
        self.client
            .request(reply, Bytes::from_static(b"+ACK"))
            .await?;
        Ok(())
    }

    /// Acknowledges it and asks for the next `batch` messages of its (pull) consumer in the
    /// same message (`+NXT {"batch":…,"expires":…}`, ADR-13): the messages come as a
    /// [`Fetch`] that ends after `batch` messages or when the server ends the request at
    /// `expires` (`408`, a normal end).
    pub async fn ack_next(&self, batch: usize, expires: Duration) -> Result<Fetch> {
        if batch == 0 {
            return Err(Error::new(ErrorKind::InvalidInput, "ack_next batch is 0"));
        }
        if expires.is_zero() {
            return Err(Error::new(ErrorKind::InvalidInput, "ack_next expires is 0"));
        }
        let reply = self.reply()?;
        let request = PullRequest {
            batch: Some(batch as u64),
            expires: Some(expires),
            ..PullRequest::default()
        };
        let mut body = b"+NXT ".to_vec();
        body.extend_from_slice(&request.to_bytes()?);
        let inbox = self.client.new_inbox();
        let sub = self.client.subscribe(&inbox).await?;
        self.client.publish_with_reply(reply, &inbox, body).await?;
        Ok(Fetch::start(self.client.clone(), sub, &request, expires))
    }

    /// Negative acknowledgement (`-NAK`): redeliver it now (or after the consumer's backoff).
    pub async fn nak(&self) -> Result<()> {
        self.send(Bytes::from_static(b"-NAK")).await
    }

    /// Negative acknowledgement with a redelivery delay (`-NAK {"delay":<ns>}`).
    pub async fn nak_with_delay(&self, delay: Duration) -> Result<()> {
        let nanos = i64::try_from(delay.as_nanos()).unwrap_or(i64::MAX);
        self.send(format!("-NAK {{\"delay\":{nanos}}}")).await
    }

    /// Work in progress (`+WPI`): restarts the ack wait timer.
    pub async fn in_progress(&self) -> Result<()> {
        self.send(Bytes::from_static(b"+WPI")).await
    }

    /// Terminates it (`+TERM`): never redelivered.
    pub async fn term(&self) -> Result<()> {
        self.send(Bytes::from_static(b"+TERM")).await
    }

    /// Terminates it with a reason the server puts in its advisory (`+TERM <reason>`).
    /// CR and LF in the reason are replaced by spaces.
    pub async fn term_with_reason(&self, reason: &str) -> Result<()> {
        let reason: String = reason
            .chars()
            .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
            .collect();
        self.send(format!("+TERM {reason}")).await
    }
}

impl Deref for JsMessage {
    type Target = Message;
    fn deref(&self) -> &Message {
        &self.message
    }
}

impl From<JsMessage> for Message {
    fn from(m: JsMessage) -> Message {
        m.message
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_v1_subjects() {
        let i = MessageInfo::parse("$JS.ACK.ORDERS.worker.2.10.4.1700000000123456789.7").unwrap();
        assert_eq!(i.domain, None);
        assert_eq!(i.account_hash, None);
        assert_eq!((i.stream, i.consumer), ("ORDERS", "worker"));
        assert_eq!(
            (i.delivered, i.stream_sequence, i.consumer_sequence),
            (2, 10, 4)
        );
        assert_eq!(i.published.unix_nanos(), 1_700_000_000_123_456_789);
        assert_eq!(i.pending, 7);
    }

    #[test]
    fn parses_v2_subjects() {
        let i =
            MessageInfo::parse("$JS.ACK._.ACCHASH.S.C.1.2.3.1700000000000000000.0.rand").unwrap();
        assert_eq!(i.domain, None);
        assert_eq!(i.account_hash, Some("ACCHASH"));
        assert_eq!((i.stream, i.consumer, i.stream_sequence), ("S", "C", 2));
        let i = MessageInfo::parse("$JS.ACK.hub.H.S.C.1.2.3.4.5").unwrap();
        assert_eq!(i.domain, Some("hub"));
        assert_eq!((i.consumer_sequence, i.pending), (3, 5));
        let i = MessageInfo::parse("$JS.ACK.hub.H.S.C.1.2.3.4.5.x.y.z").unwrap();
        assert_eq!(i.pending, 5);
    }

    #[test]
    fn keeps_domain_and_account_hash_of_v2_subjects() {
        let bytes: &[u8] =
            b"$JS.ACK.ngs.AAHASH9.ORDERS.worker.3.1042.77.1733500000000000001.12.Kx9z";
        let subject = std::str::from_utf8(bytes).unwrap();
        let i = MessageInfo::parse(subject).unwrap();
        assert_eq!(i.domain, Some("ngs"));
        assert_eq!(i.account_hash, Some("AAHASH9"));
        assert_eq!((i.stream, i.consumer), ("ORDERS", "worker"));
        assert_eq!(
            (
                i.delivered,
                i.stream_sequence,
                i.consumer_sequence,
                i.pending
            ),
            (3, 1042, 77, 12)
        );
        assert_eq!(i.published.unix_nanos(), 1_733_500_000_000_000_001);
        // `_` is "no domain"; the hash is still kept.
        let i = MessageInfo::parse("$JS.ACK._.H2.S.C.1.1.1.0.0.tok").unwrap();
        assert_eq!((i.domain, i.account_hash), (None, Some("H2")));
        // A v1 subject has neither.
        let i = MessageInfo::parse("$JS.ACK.S.C.1.1.1.0.0").unwrap();
        assert_eq!((i.domain, i.account_hash), (None, None));
    }

    #[test]
    fn rejects_other_shapes() {
        for bad in [
            "",
            "$JS.ACK",
            "$JS.ACK.S.C.1.2.3.4",                      // 8 tokens
            "$JS.ACK.D.H.S.C.1.2.3.4",                  // 10 tokens
            "$JS.ACK.S.C.1.2.3.4.5.6",                  // 10 tokens
            "$JS.NAK.S.C.1.2.3.4.5",                    // not ACK
            "_INBOX.S.C.1.2.3.4.5.6",                   // not $JS
            "$JS.ACK.S.C.x.2.3.4.5",                    // not a number
            "$JS.ACK.S.C.+1.2.3.4.5",                   // sign
            "$JS.ACK.S.C.-1.2.3.4.5",                   // sign
            "$JS.ACK.S.C.1.2.3.4.99999999999999999999", // overflow
            "$JS.ACK..C.1.2.3.4.5",                     // empty stream
            "$JS.ACK.S..1.2.3.4.5",                     // empty consumer
            "$JS.ACK..H.S.C.1.2.3.4.5",                 // empty domain
            "$JS.ACK.S.C.1.2.3.4.",                     // empty pending
        ] {
            assert!(MessageInfo::parse(bad).is_none(), "{bad:?}");
        }
    }
}
