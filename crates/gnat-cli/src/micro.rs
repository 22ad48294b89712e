//! `gnat micro ls|info|stats|ping`: finding NATS services (ADR-32) and showing what they
//! report, with the output shapes of the `nats micro` command and `--json`.
//!
//! Every query goes through `gnat-service`'s [`Discovery`]: one request to
//! `$SRV.<VERB>[.<name>[.<id>]]`, answers collected until `--timeout`, or until none has come
//! for a tenth of it (0.3 to 2 s) after the last.

use std::fmt::Write as _;
use std::time::Duration;

use clap::Subcommand;
use serde_json::{Value, json};
use service::{Discovery, InfoResponse, Metadata, StatsResponse};

use crate::conn::ConnectionArgs;
use crate::error::{CliError, Failure, Result};
use crate::table::{Align, Table, value_cell};
use crate::term;
use crate::units;

/// `gnat micro …`.
#[derive(Debug, Subcommand)]
pub(crate) enum MicroCommand {
    /// Lists the services that answer, or the instances of one
    #[command(alias = "list")]
    Ls {
        /// Only instances of this service
        name: Option<String>,
        /// Print JSON (the INFO replies)
        #[arg(long, short = 'j')]
        json: bool,
    },
    /// Shows a service instance's information and statistics
    Info {
        /// The service
        name: String,
        /// The instance (default: the first to answer)
        id: Option<String>,
        /// Print JSON ({"info": …, "stats": …})
        #[arg(long, short = 'j')]
        json: bool,
    },
    /// Shows the statistics of every endpoint of every instance of a service
    Stats {
        /// The service
        name: String,
        /// Only this instance
        id: Option<String>,
        /// Print JSON (the STATS replies)
        #[arg(long, short = 'j')]
        json: bool,
    },
    /// Pings every service, or every instance of one, and shows the round-trip times
    Ping {
        /// Only instances of this service
        name: Option<String>,
        /// Print JSON (the PING replies, each with `rtt` in nanoseconds)
        #[arg(long, short = 'j')]
        json: bool,
    },
}

fn service_error(err: service::Error) -> CliError {
    if err.is_invalid_config() {
        return CliError::usage(err.to_string());
    }
    match err.client_error() {
        Some(c) => CliError::from(c.clone()),
        None => CliError::other(err.to_string()),
    }
}

/// Runs a `gnat micro` subcommand.
pub(crate) async fn run(conn: &ConnectionArgs, command: MicroCommand) -> Result<()> {
    let client = conn.connect().await?;
    // After an answer, wait a tenth of the timeout (0.3 to 2 s) for the next one.
    let stall = (conn.timeout / 10).clamp(Duration::from_millis(300), Duration::from_secs(2));
    let discovery = Discovery::new(&client).timeout(conn.timeout).stall(stall);
    let outcome = match command {
        MicroCommand::Ls { name, json } => ls(&discovery, name.as_deref(), json).await,
        MicroCommand::Info { name, id, json } => info(&discovery, &name, id.as_deref(), json).await,
        MicroCommand::Stats { name, id, json } => {
            stats(&discovery, &name, id.as_deref(), json).await
        }
        MicroCommand::Ping { name, json } => ping(&discovery, name.as_deref(), json).await,
    };
    client.close().await;
    outcome
}

/// Sorted by name, then id.
fn sort_by_identity<T>(items: &mut [T], key: impl Fn(&T) -> (&str, &str)) {
    items.sort_by(|a, b| key(a).cmp(&key(b)));
}

async fn ls(discovery: &Discovery, name: Option<&str>, json: bool) -> Result<()> {
    let mut infos = discovery.info(name, None).await.map_err(service_error)?;
    sort_by_identity(&mut infos, |i| (i.name.as_str(), i.id.as_str()));
    if json {
        return term::json(&serde_json::to_value(&infos).unwrap_or(Value::Null));
    }
    if infos.is_empty() {
        return term::outln("No results received");
    }
    term::out(ls_table(name, &infos).as_bytes())
}

/// The `ls` table: Name, Version, ID, Description; a name, version or description equal to
/// the row above is left blank, as `nats micro ls` does.
pub(crate) fn ls_table(name: Option<&str>, infos: &[InfoResponse]) -> String {
    let title = match name {
        Some(name) => format!("{name} Micro Service"),
        None => "All Micro Services".to_string(),
    };
    let mut table = Table::new(&["Name", "Version", "ID", "Description"]).title(title);
    let mut previous: Option<&InfoResponse> = None;
    for info in infos {
        let same = |f: fn(&InfoResponse) -> &str| previous.is_some_and(|p| f(p) == f(info));
        let blank_or = |f: fn(&InfoResponse) -> &str| {
            if same(f) {
                String::new()
            } else {
                cell(f(info))
            }
        };
        table.row(vec![
            blank_or(|i| &i.name),
            blank_or(|i| &i.version),
            cell(&info.id),
            blank_or(|i| &i.description),
        ]);
        previous = Some(info);
    }
    table.render()
}

fn cell(text: &str) -> String {
    value_cell(text.as_bytes(), 60)
}

fn nanos(n: u64) -> String {
    units::duration(Duration::from_nanos(n))
}

async fn info(discovery: &Discovery, name: &str, id: Option<&str>, json: bool) -> Result<()> {
    let mut infos = discovery
        .clone()
        .max_responses(1)
        .info(Some(name), id)
        .await
        .map_err(service_error)?;
    let Some(info) = infos.pop() else {
        if json {
            return term::outln("{}");
        }
        return Err(CliError::new(
            Failure::Other,
            format!("no instance of service {name} answered"),
        ));
    };
    let stats = discovery
        .stats(Some(&info.name), Some(&info.id))
        .await
        .map_err(service_error)?
        .pop();
    if json {
        return term::json(&json!({ "info": info, "stats": stats }));
    }
    term::out(info_block(&info, stats.as_ref()).as_bytes())
}

/// The `info` block: the service, its endpoints, and each endpoint's statistics.
pub(crate) fn info_block(info: &InfoResponse, stats: Option<&StatsResponse>) -> String {
    let mut out = String::from("Service Information\n\n");
    let field = |out: &mut String, indent: usize, label: &str, value: &str| {
        let _ = writeln!(out, "{:indent$}{label:>17}: {value}", "");
    };
    field(
        &mut out,
        0,
        "Service",
        &format!("{} ({})", info.name, info.id),
    );
    field(&mut out, 0, "Description", &cell(&info.description));
    field(&mut out, 0, "Version", &info.version);
    metadata(&mut out, 0, &info.metadata);
    out.push_str("\nEndpoints:\n");
    for e in &info.endpoints {
        out.push('\n');
        field(&mut out, 2, "Name", &e.name);
        field(&mut out, 2, "Subject", &e.subject);
        let queue = if e.queue_group.is_empty() {
            "none"
        } else {
            &e.queue_group
        };
        field(&mut out, 2, "Queue Group", queue);
        metadata(&mut out, 2, &e.metadata);
    }
    if let Some(stats) = stats {
        let _ = writeln!(
            out,
            "\nStatistics for {} Endpoint(s):",
            stats.endpoints.len()
        );
        for e in &stats.endpoints {
            let name = if e.name.is_empty() {
                "default"
            } else {
                &e.name
            };
            let _ = writeln!(out, "\n  {name} Endpoint Statistics:\n");
            field(&mut out, 2, "Requests", &e.num_requests.to_string());
            field(
                &mut out,
                2,
                "Processing Time",
                &format!(
                    "{} (average {})",
                    nanos(e.processing_time),
                    nanos(e.average_processing_time)
                ),
            );
            field(&mut out, 2, "Started", &stats.started);
            field(&mut out, 2, "Errors", &e.num_errors.to_string());
            if !e.last_error.is_empty() {
                field(&mut out, 2, "Last Error", &cell(&e.last_error));
            }
            if let Some(data) = e.data.as_ref().filter(|d| !d.is_null()) {
                let text = serde_json::to_string_pretty(data).unwrap_or_default();
                out.push_str("\n    Endpoint Specific Statistics:\n\n");
                for line in text.lines() {
                    let _ = writeln!(out, "      {line}");
                }
            }
        }
    }
    out
}

fn metadata(out: &mut String, indent: usize, metadata: &Metadata) {
    for (i, (k, v)) in metadata.iter().enumerate() {
        let label = if i == 0 { "Metadata" } else { "" };
        let _ = writeln!(out, "{:indent$}{label:>17}: {}: {}", "", cell(k), cell(v));
    }
}

async fn stats(discovery: &Discovery, name: &str, id: Option<&str>, json: bool) -> Result<()> {
    let mut all = discovery
        .stats(Some(name), id)
        .await
        .map_err(service_error)?;
    sort_by_identity(&mut all, |s| (s.name.as_str(), s.id.as_str()));
    if json {
        return term::json(&serde_json::to_value(&all).unwrap_or(Value::Null));
    }
    if all.is_empty() {
        return term::outln("No responses received");
    }
    term::out(stats_table(name, &all).as_bytes())
}

/// The `stats` table: one row per endpoint of each instance (the id on its first row only),
/// then a totals row.
pub(crate) fn stats_table(name: &str, all: &[StatsResponse]) -> String {
    let mut table = Table::new(&[
        "ID",
        "Endpoint",
        "Requests",
        "Errors",
        "Processing Time",
        "Average Time",
    ])
    .title(format!("{name} Service Statistics"));
    for column in 2..6 {
        table = table.align(column, Align::Right);
    }
    let (mut requests, mut errors, mut time) = (0u64, 0u64, 0u64);
    for s in all {
        for (i, e) in s.endpoints.iter().enumerate() {
            table.row(vec![
                if i == 0 { s.id.clone() } else { String::new() },
                cell(&e.name),
                units::thousands(e.num_requests),
                units::thousands(e.num_errors),
                nanos(e.processing_time),
                nanos(e.average_processing_time),
            ]);
            requests = requests.saturating_add(e.num_requests);
            errors = errors.saturating_add(e.num_errors);
            time = time.saturating_add(e.processing_time);
        }
    }
    table.row(vec![
        String::new(),
        "total".to_string(),
        units::thousands(requests),
        units::thousands(errors),
        nanos(time),
        nanos(time.checked_div(requests).unwrap_or(0)),
    ]);
    table.render()
}

async fn ping(discovery: &Discovery, name: Option<&str>, json: bool) -> Result<()> {
    let pings = discovery.ping_with_rtt(name).await.map_err(service_error)?;
    if json {
        let list: Vec<Value> = pings
            .iter()
            .map(|(p, rtt)| {
                let mut v = serde_json::to_value(p).unwrap_or(Value::Null);
                if let Some(o) = v.as_object_mut() {
                    o.insert("rtt".into(), Value::from(rtt.as_nanos() as u64));
                }
                v
            })
            .collect();
        return term::json(&Value::Array(list));
    }
    if pings.is_empty() {
        return term::outln("No responses received");
    }
    let mut out = String::new();
    for (p, rtt) in &pings {
        let who = format!("{} {}", p.name, p.id);
        let _ = writeln!(out, "{who:<50} rtt={}", units::latency(*rtt));
    }
    term::out(out.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(name: &str, id: &str, version: &str, description: &str) -> InfoResponse {
        serde_json::from_value(json!({
            "type": "io.nats.micro.v1.info_response",
            "name": name, "id": id, "version": version, "description": description,
            "metadata": {"k": "v"},
            "endpoints": [{"name": "e", "subject": "s.e", "queue_group": "q", "metadata": {}}],
        }))
        .unwrap()
    }

    #[test]
    fn ls_blanks_repeated_names_versions_and_descriptions() {
        let infos = [
            info("a", "1", "1.0.0", "first"),
            info("a", "2", "1.0.0", "first"),
            info("b", "3", "2.0.0", "second"),
        ];
        let table = ls_table(None, &infos);
        assert!(table.contains("All Micro Services"), "{table}");
        let rows: Vec<&str> = table
            .lines()
            .filter(|l| l.contains(" 1 ") || l.contains(" 2 ") || l.contains(" 3 "))
            .collect();
        assert_eq!(rows.len(), 3, "{table}");
        assert!(
            rows[0].contains("│ a ") && rows[0].contains("first"),
            "{table}"
        );
        assert!(
            !rows[1].contains("│ a ") && !rows[1].contains("first"),
            "{table}"
        );
        assert!(
            rows[2].contains("│ b ") && rows[2].contains("second"),
            "{table}"
        );
    }

    #[test]
    fn stats_total_the_endpoints() {
        let s: StatsResponse = serde_json::from_value(json!({
            "type": "io.nats.micro.v1.stats_response", "name": "a", "id": "X", "version": "1.0.0",
            "metadata": {}, "started": "2024-01-01T00:00:00.000000Z",
            "endpoints": [
                {"name": "e1", "subject": "e1", "queue_group": "q", "num_requests": 1500, "num_errors": 2,
                 "last_error": "", "data": null, "processing_time": 3000000000u64, "average_processing_time": 2000000},
                {"name": "e2", "subject": "e2", "queue_group": "q", "num_requests": 500, "num_errors": 0,
                 "last_error": "", "data": null, "processing_time": 1000000000u64, "average_processing_time": 2000000},
            ]
        }))
        .unwrap();
        let table = stats_table("a", &[s]);
        assert!(table.contains("a Service Statistics"), "{table}");
        let total = table.lines().find(|l| l.contains("total")).unwrap();
        assert!(
            total.contains("2,000") && total.contains("4s") && total.contains("2ms"),
            "{total}"
        );
        assert_eq!(
            table.matches(" X ").count(),
            1,
            "the id only on its first row: {table}"
        );
    }

    #[test]
    fn info_shows_endpoints_and_queue_groups() {
        let block = info_block(&info("a", "1", "1.0.0", "first"), None);
        assert!(block.contains("Service: a (1)"), "{block}");
        assert!(block.contains("Subject: s.e"), "{block}");
        assert!(block.contains("Queue Group: q"), "{block}");
        assert!(block.contains("Metadata: k: v"), "{block}");
    }
}
