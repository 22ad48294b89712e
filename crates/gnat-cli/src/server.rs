//! `gnat rtt`, `gnat server ping` and `gnat server check connection`: round trips to the
//! servers, the servers of a cluster answering `$SYS.REQ.SERVER.PING`, and a monitoring check
//! of a connection (connect time, round trip, a full publish/receive) with natscli's
//! OK/WARNING/CRITICAL thresholds, Nagios output and Nagios exit codes.

use std::time::{Duration, Instant};

use clap::{Args, Subcommand, ValueEnum};
use kv::jetstream::client::Client;
use serde_json::{Value, json};

use crate::account::{rtt, tls_in_use};
use crate::conn::ConnectionArgs;
use crate::error::{CliError, Failure, Result};
use crate::table::Table;
use crate::term;
use crate::units::{self, parse_duration};

/// `gnat rtt`.
#[derive(Debug, Args)]
pub(crate) struct RttArgs {
    /// How many round trips to average (1 to 1000)
    #[arg(default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=1000))]
    iterations: u32,
    /// Produce JSON output
    #[arg(short = 'j', long)]
    json: bool,
}

/// The server subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum ServerCommand {
    /// Pings every server of the cluster ($SYS.REQ.SERVER.PING; needs the system account)
    Ping(PingArgs),
    /// Checks a server, for monitoring systems (Nagios exit codes)
    #[command(subcommand)]
    Check(CheckCommand),
}

/// `gnat server ping`.
#[derive(Debug, Args)]
pub(crate) struct PingArgs {
    /// How many servers to expect [default: as many as the first answer says are active]
    expect: Option<u32>,
    /// Include the server IDs
    #[arg(long)]
    id: bool,
}

/// The checks.
#[derive(Debug, Subcommand)]
pub(crate) enum CheckCommand {
    /// Checks connecting, the round trip and a publish/receive against thresholds
    #[command(alias = "conn")]
    Connection(ConnectionCheckArgs),
}

/// How a check is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum CheckFormat {
    /// One line: `OK Connection OK:… | perfdata`
    Nagios,
    /// The result as JSON
    Json,
    /// A status line and a table
    Text,
}

/// `gnat server check connection`.
#[derive(Debug, Args)]
pub(crate) struct ConnectionCheckArgs {
    /// Warning threshold for connecting
    #[arg(long, default_value = "500ms", value_parser = parse_duration, value_name = "DURATION")]
    connect_warn: Duration,
    /// Critical threshold for connecting
    #[arg(long, default_value = "1s", value_parser = parse_duration, value_name = "DURATION")]
    connect_critical: Duration,
    /// Warning threshold for the server round trip
    #[arg(long, default_value = "500ms", value_parser = parse_duration, value_name = "DURATION")]
    rtt_warn: Duration,
    /// Critical threshold for the server round trip
    #[arg(long, default_value = "1s", value_parser = parse_duration, value_name = "DURATION")]
    rtt_critical: Duration,
    /// Warning threshold for a full publish and receive
    #[arg(long, default_value = "500ms", value_parser = parse_duration, value_name = "DURATION")]
    req_warn: Duration,
    /// Critical threshold for a full publish and receive
    #[arg(long, default_value = "1s", value_parser = parse_duration, value_name = "DURATION")]
    req_critical: Duration,
    /// Output format
    #[arg(long, value_enum, default_value = "nagios")]
    format: CheckFormat,
}

/// Runs `gnat rtt`.
pub(crate) async fn run_rtt(conn: &ConnectionArgs, args: RttArgs) -> Result<()> {
    let mut targets = Vec::new();
    for url in conn
        .url()
        .split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
    {
        let url = if url.contains("://") {
            url.to_string()
        } else {
            format!("nats://{url}")
        };
        let started = kv::jetstream::Timestamp::now().to_rfc3339();
        let outcome = async {
            let client = conn
                .options()?
                .connect(&url)
                .await
                .map_err(|e| CliError::connect(&url, &e))?;
            let mut total = Duration::ZERO;
            for _ in 0..args.iterations {
                total += rtt(&client).await?;
            }
            client.close().await;
            Ok::<Duration, CliError>(total / args.iterations)
        }
        .await;
        targets.push((url, started, outcome));
    }
    // Every server failing is one error (the first); otherwise each failure is a line on
    // stderr beside the results, as natscli logs them.
    if let Some(first) = targets
        .iter()
        .map(|(_, _, r)| r.as_ref().err())
        .collect::<Option<Vec<_>>>()
        .and_then(|errors| errors.first().map(|e| (*e).clone()))
    {
        return Err(first);
    }
    let targets: Vec<(String, String, Option<Duration>)> = targets
        .into_iter()
        .map(|(url, time, r)| {
            if let Err(e) = &r {
                eprintln!("Failed to compute rtt for {url}: {}", e.message);
            }
            (url, time, r.ok())
        })
        .collect();
    if args.json {
        let list: Vec<Value> = targets
            .iter()
            .map(|(url, time, r)| {
                json!({
                    "url": url,
                    "results": [{
                        "time": time,
                        "address": url,
                        "rtt": r.map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)),
                        "url": url,
                    }],
                })
            })
            .collect();
        return term::json(&Value::Array(list));
    }
    let width = targets.iter().map(|(u, _, _)| u.len()).max().unwrap_or(0) + 3;
    let mut out = String::new();
    for (url, _, r) in &targets {
        out.push_str(&format!("{url}:\n\n"));
        let value = r.map_or("failed".to_string(), units::latency);
        out.push_str(&format!("{url:>width$}: {value}\n\n"));
    }
    term::out(out.as_bytes())
}

/// Runs `gnat server …`.
pub(crate) async fn run(conn: &ConnectionArgs, command: ServerCommand) -> Result<()> {
    match command {
        ServerCommand::Ping(args) => ping(conn, args).await,
        ServerCommand::Check(CheckCommand::Connection(args)) => check_connection(conn, args).await,
    }
}

async fn ping(conn: &ConnectionArgs, args: PingArgs) -> Result<()> {
    let client = conn.connect().await?;
    let inbox = client.new_inbox();
    let mut sub = client.subscribe(&inbox).await?;
    let start = Instant::now();
    client
        .publish_with_reply("$SYS.REQ.SERVER.PING", &inbox, kv::Bytes::new())
        .await?;
    client.flush().await?;
    let deadline = tokio::time::Instant::now() + conn.timeout;
    let mut expect = args.expect;
    let mut millis: Vec<f64> = Vec::new();
    let mut out = String::new();
    loop {
        if expect.is_some_and(|n| millis.len() as u32 >= n) {
            break;
        }
        let msg = match tokio::time::timeout_at(deadline, sub.next()).await {
            Ok(Some(m)) => m,
            _ => break,
        };
        if let Some(status) = msg.status() {
            return Err(CliError::refused(format!(
                "{} status from $SYS.REQ.SERVER.PING, ensure a system account is used with appropriate permissions",
                status.as_u16()
            )));
        }
        let since = start.elapsed();
        let stats: Value = serde_json::from_slice(&msg.payload)
            .map_err(|e| CliError::other(format!("could not decode a response: {e}")))?;
        if expect.is_none() {
            expect = stats["statsz"]["active_servers"]
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .filter(|n| *n > 0);
        }
        let name = stats["server"]["name"].as_str().unwrap_or("");
        let id = stats["server"]["id"].as_str().unwrap_or("");
        millis.push(since.as_secs_f64() * 1e3);
        let line = if args.id {
            format!("{id} {name:<60} rtt={}\n", units::latency(since))
        } else {
            format!("{name:<60} rtt={}\n", units::latency(since))
        };
        term::out(line.as_bytes())?;
    }
    out.push_str("\n---- ping statistics ----\n");
    if millis.is_empty() {
        out.push_str("no responses received\n");
    } else {
        let max = millis.iter().copied().fold(f64::MIN, f64::max);
        let min = millis.iter().copied().fold(f64::MAX, f64::min);
        let avg = millis.iter().sum::<f64>() / millis.len() as f64;
        out.push_str(&format!(
            "{} replies max: {max:.2} min: {min:.2} avg: {avg:.2}\n",
            millis.len()
        ));
    }
    let missing = expect.map_or(0, |n| n.saturating_sub(millis.len() as u32));
    if missing > 0 {
        out.push_str(&format!("\nMissing {missing} server(s)\n"));
    }
    term::out(out.as_bytes())?;
    if millis.is_empty() {
        return Err(CliError::other("no server answered $SYS.REQ.SERVER.PING"));
    }
    if missing > 0 {
        return Err(CliError::new(Failure::Status(1), ""));
    }
    Ok(())
}

/// A check's outcome, after the monitoring plugin conventions natscli follows.
#[derive(Debug, Default)]
struct Check {
    oks: Vec<String>,
    warnings: Vec<String>,
    criticals: Vec<String>,
    /// `(name, seconds, warn, crit)`.
    perf: Vec<(&'static str, f64, f64, f64)>,
    tls: Option<bool>,
}

impl Check {
    fn status(&self) -> (&'static str, u8) {
        if !self.criticals.is_empty() {
            ("CRITICAL", 2)
        } else if !self.warnings.is_empty() {
            ("WARNING", 1)
        } else {
            ("OK", 0)
        }
    }

    /// Files `elapsed` against the thresholds (`ok` is the message when below both).
    fn judge(&mut self, elapsed: Duration, warn: Duration, crit: Duration, over: &str, ok: String) {
        if !crit.is_zero() && elapsed >= crit {
            self.criticals
                .push(format!("{over} exceeded {}", units::duration(crit)));
        } else if !warn.is_zero() && elapsed >= warn {
            self.warnings
                .push(format!("{over} exceeded {}", units::duration(warn)));
        } else {
            self.oks.push(ok);
        }
    }

    /// `OK Connection OK:… | connect_time=0.0012s;0.5000;1.0000 …`.
    fn nagios(&self, name: &str) -> String {
        let mut parts = vec![name.to_string()];
        parts.extend(self.criticals.iter().map(|c| format!("Crit:{c}")));
        parts.extend(self.warnings.iter().map(|w| format!("Warn:{w}")));
        parts.extend(self.oks.iter().map(|o| format!("OK:{o}")));
        let line = format!("{} {}", self.status().0, parts.join(" "));
        if self.perf.is_empty() {
            return line;
        }
        let perf: Vec<String> = self
            .perf
            .iter()
            .map(|(n, v, w, c)| format!("{n}={v:.4}s;{w:.4};{c:.4}"))
            .collect();
        format!("{line} | {}", perf.join(" "))
    }

    fn json(&self, name: &str, check: &str) -> Value {
        json!({
            "name": name,
            "check": check,
            "status": self.status().0,
            "ok": self.oks,
            "warning": self.warnings,
            "critical": self.criticals,
            "tls": self.tls,
            "perf_data": self.perf.iter().map(|(n, v, w, c)| json!({
                "name": n, "value": v, "warning": w, "critical": c, "unit": "s",
            })).collect::<Vec<_>>(),
        })
    }

    fn text(&self, name: &str) -> String {
        let mut t = Table::new(&["Status", "Message"]);
        for o in &self.oks {
            t.row(vec!["OK".into(), o.clone()]);
        }
        for w in &self.warnings {
            t.row(vec!["Warning".into(), w.clone()]);
        }
        for c in &self.criticals {
            t.row(vec!["Critical".into(), c.clone()]);
        }
        format!("{name}: {}\n\n{}", self.status().0, t.render())
    }
}

/// A payload of 100 letters and digits that differs from run to run.
fn probe_payload() -> Vec<u8> {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut x = kv::jetstream::Timestamp::now().unix_nanos() as u64 | 1;
    (0..100)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            ALPHABET[(x % ALPHABET.len() as u64) as usize]
        })
        .collect()
}

async fn connection_checks(
    conn: &ConnectionArgs,
    args: &ConnectionCheckArgs,
    check: &mut Check,
) -> Option<Client> {
    let url = conn.url();
    let start = Instant::now();
    let options = match conn.options() {
        Ok(o) => o,
        Err(e) => {
            check
                .criticals
                .push(format!("connection failed: {}", e.message));
            return None;
        }
    };
    let client = match options.connect(&url).await {
        Ok(c) => c,
        Err(e) => {
            check.criticals.push(format!(
                "connection failed: {}",
                CliError::connect(&url, &e).message
            ));
            return None;
        }
    };
    let took = start.elapsed();
    check.tls = Some(tls_in_use(conn, &client));
    check.perf.push((
        "connect_time",
        took.as_secs_f64(),
        args.connect_warn.as_secs_f64(),
        args.connect_critical.as_secs_f64(),
    ));
    let server = url.clone();
    check.judge(
        took,
        args.connect_warn,
        args.connect_critical,
        &format!("connected to {url}, connect time"),
        format!("connected to {server} in {}", units::latency(took)),
    );
    match rtt(&client).await {
        Ok(r) => {
            check.perf.push((
                "rtt",
                r.as_secs_f64(),
                args.rtt_warn.as_secs_f64(),
                args.rtt_critical.as_secs_f64(),
            ));
            check.judge(
                r,
                args.rtt_warn,
                args.rtt_critical,
                "rtt time",
                format!("rtt time {}", units::latency(r)),
            );
        }
        Err(e) => {
            check.criticals.push(format!("rtt failed: {}", e.message));
            return Some(client);
        }
    }
    let inbox = client.new_inbox();
    let mut sub = match client.subscribe(&inbox).await {
        Ok(s) => s,
        Err(e) => {
            check
                .criticals
                .push(format!("could not subscribe to {inbox}: {e}"));
            return Some(client);
        }
    };
    let payload = probe_payload();
    let start = Instant::now();
    if let Err(e) = client.publish(&inbox, payload.clone()).await {
        check
            .criticals
            .push(format!("could not publish to {inbox}: {e}"));
        return Some(client);
    }
    match tokio::time::timeout(conn.timeout, sub.next()).await {
        Ok(Some(m)) => {
            let took = start.elapsed();
            check.perf.push((
                "request_time",
                took.as_secs_f64(),
                args.req_warn.as_secs_f64(),
                args.req_critical.as_secs_f64(),
            ));
            if m.payload.as_ref() != payload.as_slice() {
                check
                    .criticals
                    .push("did not receive expected message".to_string());
            }
            check.judge(
                took,
                args.req_warn,
                args.req_critical,
                "round trip request",
                format!("round trip took {:.6}s", took.as_secs_f64()),
            );
        }
        _ => check.criticals.push(format!(
            "did not receive from {inbox} within {}",
            units::duration(conn.timeout)
        )),
    }
    if check.tls == Some(true) {
        check.oks.push("tls in use".to_string());
    }
    Some(client)
}

async fn check_connection(conn: &ConnectionArgs, args: ConnectionCheckArgs) -> Result<()> {
    if args.connect_warn > args.connect_critical
        || args.rtt_warn > args.rtt_critical
        || args.req_warn > args.req_critical
    {
        return Err(CliError::usage(
            "a warning threshold is above its critical threshold",
        ));
    }
    let mut check = Check::default();
    if let Some(client) = connection_checks(conn, &args, &mut check).await {
        client.close().await;
    }
    let text = match args.format {
        CheckFormat::Nagios => check.nagios("Connection") + "\n",
        CheckFormat::Json => {
            serde_json::to_string_pretty(&check.json("Connection", "connections"))
                .unwrap_or_default()
                + "\n"
        }
        CheckFormat::Text => check.text("Connection"),
    };
    term::out(text.as_bytes())?;
    match check.status().1 {
        0 => Ok(()),
        code => Err(CliError::new(Failure::Status(code), "")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nagios_lines() {
        let mut c = Check::default();
        c.judge(
            Duration::from_millis(2),
            Duration::from_millis(500),
            Duration::from_secs(1),
            "rtt time",
            "rtt time 2ms".into(),
        );
        c.perf.push(("rtt", 0.002, 0.5, 1.0));
        assert_eq!(
            c.nagios("Connection"),
            "OK Connection OK:rtt time 2ms | rtt=0.0020s;0.5000;1.0000"
        );
        c.judge(
            Duration::from_millis(600),
            Duration::from_millis(500),
            Duration::from_secs(1),
            "rtt time",
            String::new(),
        );
        assert_eq!(c.status(), ("WARNING", 1));
        assert!(
            c.nagios("Connection")
                .starts_with("WARNING Connection Warn:rtt time exceeded 500ms OK:")
        );
        c.criticals.push("connection failed: x".into());
        assert_eq!(c.status(), ("CRITICAL", 2));
        assert_eq!(probe_payload().len(), 100);
    }
}
