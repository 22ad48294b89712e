//! `gnat account info`: the connection (server, version, cluster, round trip), whether
//! JetStream is enabled for the account (with the line natscli prints when it is not), and the
//! account's JetStream API level, domain, usage and limits, in natscli's `Label: value` shape.

use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use kv::jetstream::client::Client;
use kv::jetstream::{AccountInfo, AccountLimits, Context};
use serde_json::{Value, json};

use crate::conn::ConnectionArgs;
use crate::error::{CliError, Result};
use crate::table::Columns;
use crate::term;
use crate::units::{latency, size, thousands};

/// What natscli prints when the account has no JetStream.
pub(crate) const NOT_ENABLED: &str = "JetStream is not supported in this account";

/// The account subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum AccountCommand {
    /// Shows the connection and the account's JetStream usage and limits
    Info(InfoArgs),
}

/// `gnat account info`.
#[derive(Debug, Args)]
pub(crate) struct InfoArgs {
    /// Produce JSON output
    #[arg(long)]
    json: bool,
}

/// Runs `gnat account …`.
pub(crate) async fn run(conn: &ConnectionArgs, command: AccountCommand) -> Result<()> {
    match command {
        AccountCommand::Info(args) => info(conn, args).await,
    }
}

/// What the account's JetStream said: its information, no JetStream, or another failure.
enum JetStream {
    Enabled(Box<AccountInfo>),
    NotEnabled,
    NoResponse,
    Failed(String),
}

/// The round trip of a PING/PONG to the connected server.
pub(crate) async fn rtt(client: &Client) -> Result<Duration> {
    let start = Instant::now();
    client.flush().await?;
    Ok(start.elapsed())
}

async fn info(conn: &ConnectionArgs, args: InfoArgs) -> Result<()> {
    let client = conn.connect().await?;
    let rtt = rtt(&client).await?;
    let js = Context::new(client.clone());
    let jetstream = match js.account_info().await {
        Ok(info) => JetStream::Enabled(Box::new(info)),
        Err(e) => {
            let no_responders = e.client_error().is_some_and(|c| c.is_no_responders());
            // 10039: "jetstream not enabled for account"; 503 without JetStream at all.
            let disabled = e
                .api()
                .is_some_and(|a| a.err_code == 10039 || a.code == 503);
            let timed_out = e
                .client_kind()
                .is_some_and(|k| k == kv::jetstream::client::ErrorKind::Timeout);
            if no_responders || disabled {
                JetStream::NotEnabled
            } else if timed_out {
                JetStream::NoResponse
            } else {
                JetStream::Failed(CliError::from(e).message)
            }
        }
    };
    if args.json {
        return term::json(&info_json(conn, &client, rtt, &jetstream));
    }
    term::out(info_block(conn, &client, rtt, &jetstream).as_bytes())
}

/// The `--json` form.
fn info_json(conn: &ConnectionArgs, client: &Client, rtt: Duration, js: &JetStream) -> Value {
    let server = client.server_info();
    let (enabled, account, error) = match js {
        JetStream::Enabled(info) => (
            true,
            serde_json::to_value(info.as_ref()).unwrap_or(Value::Null),
            None,
        ),
        JetStream::NotEnabled => (false, Value::Null, Some(NOT_ENABLED.to_string())),
        JetStream::NoResponse => (
            false,
            Value::Null,
            Some("No response from JetStream server".to_string()),
        ),
        JetStream::Failed(e) => (false, Value::Null, Some(e.clone())),
    };
    json!({
        "connection": {
            "url": conn.url(),
            "server_id": server.server_id,
            "server_name": server.server_name,
            "version": server.version,
            "cluster": server.cluster,
            "client_id": server.client_id,
            "client_ip": server.client_ip,
            "rtt_ns": u64::try_from(rtt.as_nanos()).unwrap_or(u64::MAX),
            "headers": server.headers,
            "max_payload": server.max_payload,
            "tls": tls_in_use(conn, client),
        },
        "jetstream": {
            "enabled": enabled,
            "account": account,
            "error": error,
        },
    })
}

/// Whether the connection is TLS: the server requires it, or the flags or URL ask for it.
pub(crate) fn tls_in_use(conn: &ConnectionArgs, client: &Client) -> bool {
    client.server_info().tls_required
        || conn.tlsca.is_some()
        || conn.tlscert.is_some()
        || conn
            .url()
            .split(',')
            .any(|u| u.trim().starts_with("tls://"))
}

/// The text form, after natscli's `account info`.
fn info_block(conn: &ConnectionArgs, client: &Client, rtt: Duration, js: &JetStream) -> String {
    let server = client.server_info();
    let mut c = Columns::new("Account Information");
    c.field("Client ID", server.client_id);
    c.field("Client IP", &server.client_ip);
    c.field("RTT", latency(rtt));
    c.field("Headers Supported", server.headers);
    c.field("Maximum Payload", size(server.max_payload as u64));
    c.field_if_some("Connected Cluster", server.cluster.as_deref());
    c.field("Connected URL", conn.url());
    c.field("Connected Server ID", &server.server_id);
    c.field("Connected Server Version", &server.version);
    if server.server_name != server.server_id {
        c.field_if_some("Connected Server Name", Some(&server.server_name));
    }
    c.field(
        "TLS Connection",
        if tls_in_use(conn, client) {
            "yes"
        } else {
            "no"
        },
    );
    match js {
        JetStream::Enabled(info) => {
            match info.domain.as_deref().filter(|d| !d.is_empty()) {
                Some(d) => c.section(format!("JetStream Account Information for domain {d}")),
                None => c.section("JetStream Account Information"),
            };
            c.section("Account Usage");
            c.field_if_some("Domain", info.domain.as_deref());
            c.field("API Level", info.api.level);
            c.field(
                "API Requests",
                format!(
                    "{} ({} errors)",
                    thousands(info.api.total),
                    thousands(info.api.errors)
                ),
            );
            c.field("Storage", size(info.storage));
            c.field("Memory", size(info.memory));
            c.field("Streams", thousands(info.streams));
            c.field("Consumers", thousands(info.consumers));
            c.section("Account Limits");
            c.field("Max Message Payload", size(server.max_payload as u64));
            match &info.tiers {
                Some(tiers) if !tiers.is_empty() => {
                    let mut names: Vec<&String> = tiers.keys().collect();
                    names.sort();
                    for name in names {
                        let t = &tiers[name];
                        tier(
                            &mut c,
                            name,
                            &t.limits,
                            (t.memory, t.reserved_memory),
                            (t.storage, t.reserved_storage),
                            t.streams,
                        );
                    }
                }
                _ => tier(
                    &mut c,
                    "Default",
                    &info.limits,
                    (info.memory, info.reserved_memory),
                    (info.storage, info.reserved_storage),
                    info.streams,
                ),
            }
        }
        JetStream::NotEnabled => {
            c.line("").line(format!("   {NOT_ENABLED}"));
        }
        JetStream::NoResponse => {
            c.line("").line("   No response from JetStream server");
        }
        JetStream::Failed(e) => {
            c.line("")
                .line(format!("   Could not obtain account information: {e}"));
        }
    }
    c.render()
}

/// One tier of limits (`Tier: Default`), as natscli renders it.
fn tier(
    c: &mut Columns,
    name: &str,
    limits: &AccountLimits,
    memory: (u64, u64),
    storage: (u64, u64),
    streams: u64,
) {
    let of = |used: u64, max: i64, reserved: u64| {
        let max = if max < 0 {
            "Unlimited".to_string()
        } else {
            size(max as u64)
        };
        if reserved > 0 {
            format!("{} of {max} ({} reserved)", size(used), size(reserved))
        } else {
            format!("{} of {max}", size(used))
        }
    };
    let per_stream = |max: i64| {
        if max <= 0 {
            "Unlimited".to_string()
        } else {
            size(max as u64)
        }
    };
    c.indent(2).section(format!("Tier: {name}"));
    c.indent(6).section("Configuration Requirements");
    c.field("Stream Requires Max Bytes Set", limits.max_bytes_required);
    if limits.max_ack_pending <= 0 {
        c.field("Consumer Maximum Ack Pending", "Unlimited");
    } else {
        c.field("Consumer Maximum Ack Pending", limits.max_ack_pending);
    }
    c.section("Stream Resource Usage Limits");
    c.field("Memory", of(memory.0, limits.max_memory, memory.1));
    c.field(
        "Memory Per Stream",
        per_stream(limits.memory_max_stream_bytes),
    );
    c.field("Storage", of(storage.0, limits.max_storage, storage.1));
    c.field(
        "Storage Per Stream",
        per_stream(limits.storage_max_stream_bytes),
    );
    if limits.max_streams < 0 {
        c.field("Streams", format!("{} of Unlimited", thousands(streams)));
    } else {
        c.field(
            "Streams",
            format!("{} of {}", thousands(streams), limits.max_streams),
        );
    }
    if limits.max_consumers < 0 {
        c.field("Consumers", "Unlimited");
    } else {
        c.field(
            "Consumers",
            format!("Maximum {} per stream", limits.max_consumers),
        );
    }
    c.indent(0);
}
