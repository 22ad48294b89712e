//! `gnat pub`, `gnat sub`, `gnat req` and `gnat reply`: core NATS from the command line.
//!
//! Data goes to stdout; progress notes ("Subscribing on …", "Published …", round-trip
//! times) go to stderr, so that stdout can be piped.

use std::time::Instant;

use clap::Args;
use kv::jetstream::client::{Client, HeaderMap, Message, Request};
use serde_json::{Value, json};

use crate::conn::ConnectionArgs;
use crate::error::{CliError, Result};
use crate::json::put_payload;
use crate::term;
use crate::units;

/// `gnat pub`.
#[derive(Debug, Args)]
pub(crate) struct PubArgs {
    /// The subject to publish to
    subject: String,
    /// The message body [default: empty]
    body: Option<String>,
    /// A reply subject to send with it
    #[arg(long, value_name = "SUBJECT")]
    reply: Option<String>,
    /// A header, as Name:Value (repeatable)
    #[arg(short = 'H', long = "header", value_name = "NAME:VALUE")]
    headers: Vec<String>,
    /// Publish the message this many times
    #[arg(long, default_value_t = 1)]
    count: u64,
}

/// `gnat sub`.
#[derive(Debug, Args)]
pub(crate) struct SubArgs {
    /// The subject to subscribe to (wildcards `*` and `>` allowed)
    subject: String,
    /// Join this queue group
    #[arg(long, value_name = "GROUP")]
    queue: Option<String>,
    /// Exit after this many messages
    #[arg(long)]
    count: Option<u64>,
    /// Print only the payloads, one per line
    #[arg(long, conflicts_with = "json")]
    raw: bool,
    /// Print one JSON object per message and line
    #[arg(long)]
    json: bool,
}

/// `gnat req`.
#[derive(Debug, Args)]
pub(crate) struct ReqArgs {
    /// The subject to send the request to
    subject: String,
    /// The request body [default: empty]
    body: Option<String>,
    /// A header, as Name:Value (repeatable)
    #[arg(short = 'H', long = "header", value_name = "NAME:VALUE")]
    headers: Vec<String>,
    /// Print only the reply's payload, byte for byte
    #[arg(long, conflicts_with = "json")]
    raw: bool,
    /// Print the reply as JSON
    #[arg(long)]
    json: bool,
}

/// `gnat reply`.
#[derive(Debug, Args)]
pub(crate) struct ReplyArgs {
    /// The subject to answer requests on
    subject: String,
    /// The reply body [default: echo each request's payload]
    body: Option<String>,
    /// Join this queue group
    #[arg(long, value_name = "GROUP")]
    queue: Option<String>,
    /// Exit after answering this many requests
    #[arg(long)]
    count: Option<u64>,
}

/// Parses `Name:Value` header flags.
fn headers(flags: &[String]) -> Result<Option<HeaderMap>> {
    if flags.is_empty() {
        return Ok(None);
    }
    let mut map = HeaderMap::new();
    for flag in flags {
        let Some((name, value)) = flag.split_once(':') else {
            return Err(CliError::usage(format!(
                "header {flag:?} is not Name:Value"
            )));
        };
        map.append(name.trim(), value.trim())
            .map_err(|e| CliError::usage(format!("header {flag:?}: {e}")))?;
    }
    Ok(Some(map))
}

/// Runs `gnat pub`.
pub(crate) async fn publish(conn: &ConnectionArgs, args: PubArgs) -> Result<()> {
    let headers = headers(&args.headers)?;
    let client = conn.connect().await?;
    let body = kv::Bytes::from(args.body.unwrap_or_default());
    for _ in 0..args.count {
        let body = body.clone();
        match (&args.reply, &headers) {
            (None, None) => client.publish(&args.subject, body).await?,
            (Some(r), None) => client.publish_with_reply(&args.subject, r, body).await?,
            (None, Some(h)) => client.publish_with_headers(&args.subject, h, body).await?,
            (Some(r), Some(h)) => {
                client
                    .publish_with_reply_and_headers(&args.subject, r, h, body)
                    .await?
            }
        }
    }
    client.flush().await?;
    if args.count == 1 {
        eprintln!("Published {} bytes to {:?}", body.len(), args.subject);
    } else {
        eprintln!(
            "Published {} messages of {} bytes to {:?}",
            args.count,
            body.len(),
            args.subject
        );
    }
    client.close().await;
    Ok(())
}

/// The text form of a received message: `[#n] Received on "subject"`, headers, payload.
pub(crate) fn message_text(n: u64, msg: &Message) -> Vec<u8> {
    let mut text = format!("[#{n}] Received on {:?}", msg.subject.as_str());
    if let Some(reply) = &msg.reply {
        text.push_str(&format!(" with reply {:?}", reply.as_str()));
    }
    text.push('\n');
    text.push_str(&header_block(msg.headers.as_ref()));
    let mut out = text.into_bytes();
    out.extend_from_slice(&msg.payload);
    out.extend_from_slice(b"\n\n");
    out
}

/// The JSON form of a received message.
pub(crate) fn message_json(msg: &Message) -> Value {
    let mut object = serde_json::Map::new();
    object.insert("subject".into(), Value::from(msg.subject.as_str()));
    object.insert(
        "reply".into(),
        msg.reply
            .as_ref()
            .map_or(Value::Null, |r| Value::from(r.as_str())),
    );
    let headers: Option<serde_json::Map<String, Value>> = msg.headers.as_ref().map(|h| {
        let mut m = serde_json::Map::new();
        for (name, value) in h.iter() {
            let slot = m.entry(name.to_string()).or_insert_with(|| json!([]));
            if let Value::Array(values) = slot {
                values.push(Value::from(value));
            }
        }
        m
    });
    object.insert("headers".into(), headers.map_or(Value::Null, Value::Object));
    if let Some(status) = msg.status() {
        object.insert("status".into(), Value::from(status.as_u16()));
    }
    put_payload(&mut object, "payload", &msg.payload);
    Value::Object(object)
}

async fn subscribe(
    client: &Client,
    subject: &str,
    queue: Option<&str>,
) -> Result<kv::jetstream::client::Subscription> {
    let sub = match queue {
        Some(q) => client.queue_subscribe(subject, q).await?,
        None => client.subscribe(subject).await?,
    };
    // The server has the subscription once the flush returns: announce it only then.
    client.flush().await?;
    Ok(sub)
}

/// Runs `gnat sub`.
pub(crate) async fn sub(conn: &ConnectionArgs, args: SubArgs) -> Result<()> {
    let client = conn.connect().await?;
    let mut sub = subscribe(&client, &args.subject, args.queue.as_deref()).await?;
    eprintln!("Subscribing on {}", args.subject);
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let mut n = 0u64;
    while args.count.is_none_or(|c| n < c) {
        let msg = tokio::select! {
            _ = &mut ctrl_c => break,
            msg = sub.next() => msg,
        };
        let Some(msg) = msg else {
            return Err(CliError::other(format!(
                "the subscription ended ({})",
                sub.close_reason()
                    .map_or("connection closed".to_string(), |r| format!("{r:?}"))
            )));
        };
        n += 1;
        if args.json {
            term::json_line(&message_json(&msg))?;
        } else if args.raw {
            let mut line = msg.payload.to_vec();
            line.push(b'\n');
            term::out(&line)?;
        } else {
            term::out(&message_text(n, &msg))?;
        }
    }
    client.close().await;
    Ok(())
}

/// Runs `gnat req`.
pub(crate) async fn req(conn: &ConnectionArgs, args: ReqArgs) -> Result<()> {
    let headers = headers(&args.headers)?;
    let client = conn.connect().await?;
    let mut request = Request::new()
        .payload(args.body.unwrap_or_default())
        .timeout(conn.timeout);
    if let Some(h) = headers {
        request = request.headers(h);
    }
    let started = Instant::now();
    let reply = client.send_request(&args.subject, request).await?;
    let rtt = started.elapsed();
    eprintln!("Received with rtt {}", units::short_duration(rtt));
    if args.json {
        let mut value = message_json(&reply);
        if let Value::Object(o) = &mut value {
            o.insert(
                "rtt_ns".into(),
                Value::from(u64::try_from(rtt.as_nanos()).unwrap_or(u64::MAX)),
            );
        }
        term::json(&value)?;
    } else if args.raw {
        term::out(&reply.payload)?;
    } else {
        let mut text = header_block(reply.headers.as_ref()).into_bytes();
        text.extend_from_slice(&reply.payload);
        text.push(b'\n');
        term::out(&text)?;
    }
    client.close().await;
    Ok(())
}

/// Runs `gnat reply`.
pub(crate) async fn reply(conn: &ConnectionArgs, args: ReplyArgs) -> Result<()> {
    let client = conn.connect().await?;
    let mut sub = subscribe(&client, &args.subject, args.queue.as_deref()).await?;
    eprintln!("Listening on {}", args.subject);
    let body = args.body.map(kv::Bytes::from);
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let mut n = 0u64;
    while args.count.is_none_or(|c| n < c) {
        let msg = tokio::select! {
            _ = &mut ctrl_c => break,
            msg = sub.next() => msg,
        };
        let Some(msg) = msg else {
            return Err(CliError::other("the subscription ended: connection closed"));
        };
        n += 1;
        term::out(&message_text(n, &msg))?;
        let Some(reply_to) = &msg.reply else {
            eprintln!("[#{n}] has no reply subject; not answered");
            continue;
        };
        let answer = body.clone().unwrap_or_else(|| msg.payload.clone());
        client.publish(reply_to.as_str(), answer).await?;
    }
    client.flush().await?;
    client.close().await;
    Ok(())
}

/// Headers as `Name: value` lines and a blank line, or nothing when there are none.
fn header_block(headers: Option<&HeaderMap>) -> String {
    let mut text = String::new();
    if let Some(h) = headers.filter(|h| !h.is_empty()) {
        for (name, value) in h.iter() {
            text.push_str(&format!("{name}: {value}\n"));
        }
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_flags() {
        assert!(headers(&[]).unwrap().is_none());
        let h = headers(&["A: 1".into(), "B:two:three".into(), "A:2".into()])
            .unwrap()
            .unwrap();
        let got: Vec<(&str, &str)> = h.iter().collect();
        assert_eq!(got, vec![("A", "1"), ("B", "two:three"), ("A", "2")]);
        assert_eq!(
            headers(&["nocolon".into()]).unwrap_err().kind.exit_code(),
            2
        );
        assert!(headers(&["bad name:x".into()]).is_err());
    }
}
