//! Request/reply over one wildcard subscription: the table of requests waiting for a reply,
//! keyed by the token at the end of their reply subject (`<inbox prefix>.<id>.<token>`).

use std::collections::HashMap;

use tokio::sync::{mpsc, oneshot};

use crate::error::{Error, ErrorKind, Result};

/// A request waiting for its reply.
struct Pending {
    /// The subject it was sent to, so a publish permission error can fail it.
    subject: Box<str>,
    tx: Waiter,
}

/// Who waits for a request's replies.
enum Waiter {
    /// A plain request: the first reply, then the entry is gone.
    One(oneshot::Sender<Result<proto::Msg>>),
    /// A request-many (ADR-47): every reply until its stream ends and forgets the token. The
    /// channel is bounded; replies beyond it are dropped (the stream is not being read).
    Many(mpsc::Sender<Result<proto::Msg>>),
}

impl Waiter {
    fn send(self, reply: Result<proto::Msg>) {
        match self {
            Waiter::One(tx) => {
                let _ = tx.send(reply);
            }
            Waiter::Many(tx) => {
                let _ = tx.try_send(reply);
            }
        }
    }
}

/// What a request-many's stream receives.
pub(crate) type ManyReceiver = mpsc::Receiver<Result<proto::Msg>>;

/// What a request's receiver gets: the reply, or why there will be none.
pub(crate) type ReplyReceiver = oneshot::Receiver<Result<proto::Msg>>;

/// The requests of one client waiting for a reply.
pub(crate) struct Requests {
    /// `<inbox prefix>.<unique id>.`
    prefix: String,
    next_token: u64,
    pending: HashMap<u64, Pending>,
}

/// A registered request: its token, full reply subject and receiver.
pub(crate) struct Registered {
    pub(crate) token: u64,
    pub(crate) reply: String,
    pub(crate) rx: ReplyReceiver,
    /// No other request waits for a reply.
    pub(crate) alone: bool,
}

impl Requests {
    pub(crate) fn new(inbox_prefix: &str) -> Self {
        Requests {
            prefix: format!("{inbox_prefix}.{}.", crate::rng::nuid()),
            next_token: 1,
            pending: HashMap::new(),
        }
    }

    /// The mux subscription's subject, `<prefix>*`.
    pub(crate) fn subject(&self) -> String {
        format!("{}*", self.prefix)
    }

    /// Registers a request to `subject`.
    pub(crate) fn register(&mut self, subject: &str) -> Registered {
        let (tx, rx) = oneshot::channel();
        let (token, reply, alone) = self.insert(subject, Waiter::One(tx));
        Registered {
            token,
            reply,
            rx,
            alone,
        }
    }

    /// Registers a request-many to `subject` whose replies queue up to `capacity` deep
    /// (at least one). Returns token, reply subject, receiver and whether it is alone.
    pub(crate) fn register_many(
        &mut self,
        subject: &str,
        capacity: usize,
    ) -> (u64, String, ManyReceiver, bool) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let (token, reply, alone) = self.insert(subject, Waiter::Many(tx));
        (token, reply, rx, alone)
    }

    fn insert(&mut self, subject: &str, tx: Waiter) -> (u64, String, bool) {
        let token = self.next_token;
        self.next_token += 1;
        self.pending.insert(
            token,
            Pending {
                subject: subject.into(),
                tx,
            },
        );
        let mut reply = String::with_capacity(self.prefix.len() + 20);
        reply.push_str(&self.prefix);
        push_decimal(&mut reply, token);
        (token, reply, self.pending.len() == 1)
    }

    pub(crate) fn forget(&mut self, token: u64) {
        self.pending.remove(&token);
    }

    pub(crate) fn len(&self) -> usize {
        self.pending.len()
    }

    /// The waiting request a reply on `subject` is for: a plain request is removed from the
    /// table, a request-many stays (its stream forgets it when it ends).
    fn take_for(&mut self, subject: &[u8]) -> Option<Waiter> {
        let token = subject
            .strip_prefix(self.prefix.as_bytes())
            .and_then(parse_decimal)?;
        match &self.pending.get(&token)?.tx {
            Waiter::Many(tx) => Some(Waiter::Many(tx.clone())),
            Waiter::One(_) => self.pending.remove(&token).map(|p| p.tx),
        }
    }

    /// The requests sent to `subject` (removed from the table), to fail.
    fn take_sent_to(&mut self, subject: &str) -> Vec<Waiter> {
        let tokens: Vec<u64> = self
            .pending
            .iter()
            .filter(|(_, p)| &*p.subject == subject)
            .map(|(t, _)| *t)
            .collect();
        tokens
            .into_iter()
            .filter_map(|t| self.pending.remove(&t).map(|p| p.tx))
            .collect()
    }

    /// Drops every waiting request (their receivers see the client closed).
    pub(crate) fn clear(&mut self) {
        self.pending.clear();
    }
}

/// Delivers a message that arrived on the mux subscription to its request, if it still
/// waits; late replies are dropped. `table` is locked only to find it.
pub(crate) fn deliver(table: &std::sync::Mutex<Requests>, msg: proto::Msg) {
    let tx = crate::lock(table).take_for(&msg.subject);
    if let Some(tx) = tx {
        tx.send(Ok(msg));
    }
}

/// Fails the requests sent to `subject` because the server refused the publish.
pub(crate) fn fail_sent_to(table: &std::sync::Mutex<Requests>, subject: &str, message: &str) {
    let failed = crate::lock(table).take_sent_to(subject);
    for tx in failed {
        tx.send(Err(Error::new(ErrorKind::PermissionDenied, message)));
    }
}

/// Appends `n` in decimal.
fn push_decimal(out: &mut String, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &d in &digits[i..] {
        out.push(char::from(d));
    }
}

/// Parses a decimal token; `None` for anything else (including overflow).
fn parse_decimal(bytes: &[u8]) -> Option<u64> {
    if bytes.is_empty() || bytes.len() > 20 {
        return None;
    }
    let mut n: u64 = 0;
    for &b in bytes {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_tokens_round_trip() {
        for n in [0, 1, 9, 10, 12345, u64::MAX] {
            let mut s = String::new();
            push_decimal(&mut s, n);
            assert_eq!(parse_decimal(s.as_bytes()), Some(n));
        }
        assert_eq!(parse_decimal(b""), None);
        assert_eq!(parse_decimal(b"12a"), None);
        assert_eq!(parse_decimal(b"99999999999999999999"), None);
    }

    #[test]
    fn a_reply_finds_its_request_once() {
        let mut table = Requests::new("_INBOX");
        let a = table.register("svc.a");
        let b = table.register("svc.b");
        assert!(a.alone && !b.alone);
        assert!(table.take_for(a.reply.as_bytes()).is_some());
        assert!(table.take_for(a.reply.as_bytes()).is_none(), "late reply");
        assert_eq!(table.take_sent_to("svc.b").len(), 1);
        assert_eq!(table.len(), 0);
    }

    #[test]
    fn a_request_many_stays_until_forgotten() {
        let mut table = Requests::new("_INBOX");
        let (token, reply, mut rx, alone) = table.register_many("svc.all", 2);
        assert!(alone);
        for _ in 0..3 {
            let tx = table.take_for(reply.as_bytes()).expect("still waiting");
            tx.send(Err(Error::closed()));
        }
        // Bounded: the third reply was dropped, not queued.
        assert!(rx.try_recv().is_ok() && rx.try_recv().is_ok() && rx.try_recv().is_err());
        table.forget(token);
        assert!(table.take_for(reply.as_bytes()).is_none());
        assert_eq!(table.len(), 0);
    }
}
