//! `gnat consumer …`: JetStream consumer management with natscli's subcommands, flags and
//! output shapes — `add`, `info`, `ls`, `rm`, `next`, `pause`, `resume`, `report`.
//!
//! Pull consumers are made by default; `--target SUBJECT` makes a push consumer (the server
//! delivers to that subject). `next` reads pull consumers, as natscli's does; `sub` reads push
//! consumers (natscli's hidden `consumer sub`).

use std::collections::BTreeMap;
use std::time::Duration;

use clap::{Args, Subcommand, ValueEnum};
use kv::jetstream::context::validate_token;
use kv::jetstream::{
    AckPolicy, ConsumerConfig, ConsumerInfo, Context, DeliverPolicy, FetchOptions, JsMessage,
    PullConsumer, ReplayPolicy, Timestamp,
};
use serde_json::{Value, json};

use crate::clock::Civil;
use crate::conn::ConnectionArgs;
use crate::error::{CliError, Result};
use crate::stream::parse_pair;
use crate::table::{Align, Columns, Table, capitalized};
use crate::term;
use crate::units::{self, parse_duration, thousands};

/// The consumer subcommands.
// Parsed once per run: the size of `add`'s many flags does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub(crate) enum ConsumerCommand {
    /// Creates a new consumer
    #[command(alias = "create", alias = "new")]
    Add(AddArgs),
    /// Shows a consumer's configuration and state
    #[command(alias = "nfo")]
    Info(InfoArgs),
    /// Lists the consumers of a stream
    #[command(alias = "list")]
    Ls(LsArgs),
    /// Removes a consumer
    #[command(alias = "delete", alias = "del")]
    Rm(RmArgs),
    /// Fetches messages from a pull consumer and acknowledges them
    Next(NextArgs),
    /// Receives messages from a push consumer and acknowledges them (Ctrl-C to stop)
    Sub(SubArgs),
    /// Pauses a consumer until a time or for a duration
    Pause(PauseArgs),
    /// Resumes a paused consumer
    Resume(ResumeArgs),
    /// Shows a table of a stream's consumers and their statistics
    Report(ReportArgs),
}

/// Acknowledgement policies of `--ack`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Ack {
    /// No acknowledgements
    None,
    /// Acknowledging one acknowledges every earlier one
    All,
    /// Every message on its own
    Explicit,
}

/// Replay policies of `--replay`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Replay {
    /// As fast as possible
    Instant,
    /// At the pace the messages were stored
    Original,
}

/// `gnat consumer add`.
#[derive(Debug, Args)]
pub(crate) struct AddArgs {
    /// The stream
    stream: String,
    /// The consumer name (durable); without it an ephemeral consumer is made
    consumer: Option<String>,
    /// Make an ephemeral consumer even with a name
    #[arg(long)]
    ephemeral: bool,
    /// Read the configuration from this JSON file (flags override it)
    #[arg(long, value_name = "FILE")]
    config: Option<std::path::PathBuf>,
    /// Acknowledgement policy
    #[arg(long, value_enum)]
    ack: Option<Ack>,
    /// Where to start: all, new, last, subject (last per subject), a sequence, or a duration
    /// ago (1h)
    #[arg(long, value_name = "POLICY", value_parser = parse_deliver)]
    deliver: Option<DeliverPolicy>,
    /// Push consumers: deliver only to subscriptions in this queue group
    #[arg(long, value_name = "GROUP", requires = "target")]
    deliver_group: Option<String>,
    /// A description of the consumer
    #[arg(long)]
    description: Option<String>,
    /// Only messages on these subjects (repeat for several)
    #[arg(long = "filter", value_name = "SUBJECT")]
    filters: Vec<String>,
    /// Push consumers: flow control
    #[arg(long, requires = "target")]
    flow_control: bool,
    /// Push consumers: idle heartbeats
    #[arg(long, value_parser = parse_duration, value_name = "DURATION", requires = "target")]
    heartbeat: Option<Duration>,
    /// Deliver only the headers, no bodies
    #[arg(long)]
    headers_only: bool,
    /// How many times a message is delivered at most (-1 for unlimited)
    #[arg(long, value_name = "TRIES", allow_negative_numbers = true, value_parser = parse_max_deliver)]
    max_deliver: Option<i64>,
    /// How many acknowledgements may be outstanding (-1 for unlimited)
    #[arg(long, value_name = "PENDING", allow_negative_numbers = true, value_parser = clap::value_parser!(i64).range(-1..))]
    max_pending: Option<i64>,
    /// Pull consumers: how many pulls may wait at once
    #[arg(long, value_name = "PULLS", value_parser = clap::value_parser!(i64).range(1..))]
    max_waiting: Option<i64>,
    /// Pull consumers: the largest batch a pull may ask for
    #[arg(long, value_name = "BATCH_SIZE", value_parser = clap::value_parser!(i64).range(1..))]
    max_pull_batch: Option<i64>,
    /// Pull consumers: the longest expiry a pull may ask for
    #[arg(long, value_parser = parse_duration, value_name = "EXPIRES")]
    max_pull_expire: Option<Duration>,
    /// Make a pull consumer (the default)
    #[arg(long, conflicts_with = "target")]
    pull: bool,
    /// Replay policy
    #[arg(long, value_enum)]
    replay: Option<Replay>,
    /// Make a push consumer that delivers to this subject
    #[arg(long, value_name = "SUBJECT")]
    target: Option<String>,
    /// How long the server waits for an acknowledgement before redelivering
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    wait: Option<Duration>,
    /// Remove the consumer after this long without activity
    #[arg(long, value_parser = parse_duration, value_name = "THRESHOLD")]
    inactive_threshold: Option<Duration>,
    /// Keep the consumer's state in memory
    #[arg(long)]
    memory: bool,
    /// Replicas of the consumer's state (0 inherits the stream's)
    #[arg(long, value_parser = clap::value_parser!(u64).range(0..=5))]
    replicas: Option<u64>,
    /// Metadata (repeat for several)
    #[arg(long, value_name = "KEY=VALUE", value_parser = parse_pair)]
    metadata: Vec<(String, String)>,
    /// Accept the defaults for everything not given (the only mode; for natscli scripts)
    #[arg(long)]
    defaults: bool,
    /// Produce JSON output
    #[arg(short = 'j', long)]
    json: bool,
}

/// A stream and a consumer.
#[derive(Debug, Args)]
pub(crate) struct Target {
    /// The stream
    stream: String,
    /// The consumer
    consumer: String,
}

/// `gnat consumer info`.
#[derive(Debug, Args)]
pub(crate) struct InfoArgs {
    #[command(flatten)]
    target: Target,
    /// Produce JSON output
    #[arg(short = 'j', long)]
    json: bool,
}

/// `gnat consumer ls`.
#[derive(Debug, Args)]
pub(crate) struct LsArgs {
    /// The stream
    stream: String,
    /// Show just the consumer names
    #[arg(short = 'n', long)]
    names: bool,
    /// Produce JSON output (the names)
    #[arg(short = 'j', long)]
    json: bool,
}

/// `gnat consumer rm`.
#[derive(Debug, Args)]
pub(crate) struct RmArgs {
    #[command(flatten)]
    target: Target,
    /// Remove without asking
    #[arg(short = 'f', long)]
    force: bool,
}

/// What to do with each message, for `next` and `sub`.
#[derive(Debug, Args)]
pub(crate) struct Handling {
    /// Acknowledge the messages (--ack=false to leave them unacknowledged)
    #[arg(long, num_args = 0..=1, default_value_t = true, default_missing_value = "true", value_name = "BOOL", action = clap::ArgAction::Set)]
    ack: bool,
    /// Negatively acknowledge the messages (redeliver them)
    #[arg(long, conflicts_with = "term")]
    nak: bool,
    /// Terminate the messages (never redeliver them)
    #[arg(long)]
    term: bool,
    /// Show only the message bodies
    #[arg(short = 'r', long)]
    raw: bool,
}

/// `gnat consumer next`.
#[derive(Debug, Args)]
pub(crate) struct NextArgs {
    #[command(flatten)]
    target: Target,
    #[command(flatten)]
    handling: Handling,
    /// How many messages to fetch (1 to 10000)
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    count: u64,
}

/// `gnat consumer sub`.
#[derive(Debug, Args)]
pub(crate) struct SubArgs {
    #[command(flatten)]
    target: Target,
    #[command(flatten)]
    handling: Handling,
    /// Stop after this many messages [default: run until Ctrl-C]
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    count: Option<u64>,
}

/// `gnat consumer pause`.
#[derive(Debug, Args)]
pub(crate) struct PauseArgs {
    #[command(flatten)]
    target: Target,
    /// Until when: a duration from now (1h) or a UTC time (2025-02-07T13:00:00Z or
    /// `2025-02-07 13:00:00`)
    #[arg(value_name = "UNTIL", value_parser = parse_until)]
    until: Timestamp,
    /// Pause without asking
    #[arg(short = 'f', long)]
    force: bool,
}

/// `gnat consumer resume`.
#[derive(Debug, Args)]
pub(crate) struct ResumeArgs {
    #[command(flatten)]
    target: Target,
    /// Resume without asking
    #[arg(short = 'f', long)]
    force: bool,
}

/// `gnat consumer report`.
#[derive(Debug, Args)]
pub(crate) struct ReportArgs {
    /// The stream
    stream: String,
    /// Produce JSON output
    #[arg(short = 'j', long)]
    json: bool,
}

/// `--deliver`: all, new, last, subject, a sequence, or a duration ago.
fn parse_deliver(text: &str) -> std::result::Result<DeliverPolicy, String> {
    match text {
        "all" => Ok(DeliverPolicy::All),
        "new" | "next" => Ok(DeliverPolicy::New),
        "last" => Ok(DeliverPolicy::Last),
        "subject" | "last_per_subject" => Ok(DeliverPolicy::LastPerSubject),
        _ => {
            if let Ok(seq) = text.parse::<u64>() {
                if seq == 0 {
                    return Err("a start sequence is at least 1".to_string());
                }
                return Ok(DeliverPolicy::ByStartSequence {
                    start_sequence: seq,
                });
            }
            let ago = parse_duration(text).map_err(|_| {
                format!("{text:?} is not all, new, last, subject, a sequence or a duration")
            })?;
            Ok(DeliverPolicy::ByStartTime {
                start_time: before_now(ago),
            })
        }
    }
}

fn parse_max_deliver(text: &str) -> std::result::Result<i64, String> {
    match text.parse::<i64>() {
        Ok(n) if n == -1 || n >= 1 => Ok(n),
        _ => Err(format!("{text:?} is not -1 or a count of at least 1")),
    }
}

/// The time `ago` before now.
fn before_now(ago: Duration) -> Timestamp {
    let ago = i128::try_from(ago.as_nanos()).unwrap_or(i128::MAX);
    Timestamp::from_unix_nanos(Timestamp::now().unix_nanos().saturating_sub(ago))
}

/// `pause`'s UNTIL: a duration from now or a UTC time.
fn parse_until(text: &str) -> std::result::Result<Timestamp, String> {
    if let Ok(d) = parse_duration(text) {
        let d = i128::try_from(d.as_nanos()).unwrap_or(i128::MAX);
        return Ok(Timestamp::from_unix_nanos(
            Timestamp::now().unix_nanos().saturating_add(d),
        ));
    }
    let rfc = if text.len() == 19 && text.as_bytes().get(10) == Some(&b' ') {
        format!("{}T{}Z", &text[..10], &text[11..])
    } else {
        text.to_string()
    };
    Timestamp::parse(&rfc).ok_or_else(|| {
        format!("{text:?} is neither a duration (1h) nor a time (2025-02-07 13:00:00)")
    })
}

/// Runs `gnat consumer …`.
pub(crate) async fn run(conn: &ConnectionArgs, command: ConsumerCommand) -> Result<()> {
    match command {
        ConsumerCommand::Add(args) => add(conn, args).await,
        ConsumerCommand::Info(args) => {
            args.target.validate()?;
            let js = conn.jetstream().await?;
            let info = js
                .consumer_info(&args.target.stream, &args.target.consumer)
                .await?;
            show(&info, args.json)
        }
        ConsumerCommand::Ls(args) => ls(conn, args).await,
        ConsumerCommand::Rm(args) => {
            let t = &args.target;
            t.validate()?;
            let js = conn.jetstream().await?;
            js.consumer_info(&t.stream, &t.consumer).await?;
            term::confirm(
                &format!("Really delete Consumer {} > {}", t.stream, t.consumer),
                &format!("delete consumer {} > {}", t.stream, t.consumer),
                args.force,
            )?;
            js.delete_consumer(&t.stream, &t.consumer).await?;
            Ok(())
        }
        ConsumerCommand::Next(args) => next(conn, args).await,
        ConsumerCommand::Sub(args) => sub(conn, args).await,
        ConsumerCommand::Pause(args) => pause(conn, args).await,
        ConsumerCommand::Resume(args) => resume(conn, args).await,
        ConsumerCommand::Report(args) => report(conn, args).await,
    }
}

impl Target {
    fn validate(&self) -> Result<()> {
        validate_token("stream", &self.stream)?;
        validate_token("consumer", &self.consumer)?;
        Ok(())
    }
}

/// The configuration `add` creates.
fn add_config(args: &AddArgs) -> Result<ConsumerConfig> {
    let mut c = match &args.config {
        Some(path) => {
            let text = std::fs::read(path)
                .map_err(|e| CliError::usage(format!("cannot read {}: {e}", path.display())))?;
            serde_json::from_slice::<ConsumerConfig>(&text).map_err(|e| {
                CliError::usage(format!(
                    "{}: not a consumer configuration: {e}",
                    path.display()
                ))
            })?
        }
        None => ConsumerConfig::new(),
    };
    if let Some(name) = &args.consumer {
        validate_token("consumer", name)?;
        c.name = Some(name.clone());
        c.durable_name = (!args.ephemeral).then(|| name.clone());
    }
    if let Some(a) = args.ack {
        c.ack_policy = match a {
            Ack::None => AckPolicy::None,
            Ack::All => AckPolicy::All,
            Ack::Explicit => AckPolicy::Explicit,
        };
    }
    if let Some(d) = &args.deliver {
        c.deliver_policy = d.clone();
    }
    if let Some(g) = &args.deliver_group {
        c.deliver_group = Some(g.clone());
    }
    if let Some(d) = &args.description {
        c.description = Some(d.clone());
    }
    for f in &args.filters {
        if f.is_empty() || f.contains(char::is_whitespace) {
            return Err(CliError::usage(format!("invalid filter subject {f:?}")));
        }
    }
    match args.filters.len() {
        0 => {}
        1 => c.filter_subject = Some(args.filters[0].clone()),
        _ => c.filter_subjects = args.filters.clone(),
    }
    if args.flow_control {
        c.flow_control = true;
    }
    if let Some(h) = args.heartbeat {
        c.idle_heartbeat = Some(h);
    }
    if args.headers_only {
        c.headers_only = true;
    }
    if let Some(n) = args.max_deliver {
        c.max_deliver = Some(n);
    }
    if let Some(n) = args.max_pending {
        c.max_ack_pending = Some(n);
    }
    if let Some(n) = args.max_waiting {
        c.max_waiting = Some(n);
    }
    if let Some(n) = args.max_pull_batch {
        c.max_batch = Some(n);
    }
    if let Some(d) = args.max_pull_expire {
        c.max_expires = Some(d);
    }
    if let Some(r) = args.replay {
        c.replay_policy = match r {
            Replay::Instant => ReplayPolicy::Instant,
            Replay::Original => ReplayPolicy::Original,
        };
    }
    if let Some(t) = &args.target {
        if t.is_empty() || t.contains(['*', '>']) || t.contains(char::is_whitespace) {
            return Err(CliError::usage(format!("invalid target subject {t:?}")));
        }
        c.deliver_subject = Some(t.clone());
    }
    if let Some(w) = args.wait {
        c.ack_wait = Some(w);
    }
    if let Some(d) = args.inactive_threshold {
        c.inactive_threshold = Some(d);
    }
    if args.memory {
        c.mem_storage = true;
    }
    if let Some(r) = args.replicas {
        c.num_replicas = Some(r as usize);
    }
    for (k, v) in &args.metadata {
        c.metadata.insert(k.clone(), v.clone());
    }
    Ok(c)
}

async fn add(conn: &ConnectionArgs, args: AddArgs) -> Result<()> {
    validate_token("stream", &args.stream)?;
    let config = add_config(&args)?;
    let js = conn.jetstream().await?;
    let info = js.create_consumer_strict(&args.stream, config).await?;
    show(&info, args.json)
}

fn show(info: &ConsumerInfo, json: bool) -> Result<()> {
    if json {
        return term::json(&serde_json::to_value(info).unwrap_or(Value::Null));
    }
    term::out(info_block(info).as_bytes())
}

fn deliver_text(d: &DeliverPolicy) -> String {
    match d {
        DeliverPolicy::All => "All".to_string(),
        DeliverPolicy::Last => "Last".to_string(),
        DeliverPolicy::New => "New".to_string(),
        DeliverPolicy::LastPerSubject => "Last Per Subject".to_string(),
        DeliverPolicy::ByStartTime { start_time } => {
            format!("Since {}", Civil::of(*start_time).datetime())
        }
        DeliverPolicy::ByStartSequence { start_sequence } => {
            format!("From Sequence {start_sequence}")
        }
        other => other.as_str().to_string(),
    }
}

/// natscli's `consumer info` block.
pub(crate) fn info_block(info: &ConsumerInfo) -> String {
    let cfg = &info.config;
    let mut c = Columns::new(format!(
        "Information for Consumer {} > {} created {}",
        info.stream_name,
        info.name,
        Civil::of(info.created).datetime()
    ));
    c.section("Configuration");
    c.field_if_some("Name", cfg.name.as_deref());
    if cfg.durable_name.is_some() && cfg.durable_name != cfg.name {
        c.field_if_some("Durable Name", cfg.durable_name.as_deref());
    }
    c.field_if_some("Description", cfg.description.as_deref());
    match &cfg.deliver_subject {
        Some(s) => c.field("Delivery Subject", s),
        None => c.field("Pull Mode", true),
    };
    let filters = cfg.filters();
    match filters.len() {
        0 => {}
        1 => {
            c.field("Filter Subject", filters[0]);
        }
        _ => {
            c.field("Filter Subjects", filters.join(", "));
        }
    }
    c.field("Deliver Policy", deliver_text(&cfg.deliver_policy));
    if cfg.deliver_subject.is_some() {
        c.field_if_some("Deliver Queue Group", cfg.deliver_group.as_deref());
    }
    c.field("Ack Policy", capitalized(cfg.ack_policy.as_str()));
    if cfg.ack_policy != AckPolicy::None {
        c.field(
            "Ack Wait",
            units::duration(cfg.ack_wait.unwrap_or(Duration::from_secs(30))),
        );
    }
    c.field("Replay Policy", capitalized(cfg.replay_policy.as_str()));
    if let Some(n) = cfg.max_deliver.filter(|n| *n > 0) {
        c.field("Maximum Deliveries", n);
    }
    if let Some(n) = cfg.max_ack_pending.filter(|n| *n > 0) {
        c.field("Max Ack Pending", thousands(n as u64));
    }
    if let Some(n) = cfg.max_waiting.filter(|n| *n > 0) {
        c.field("Max Waiting Pulls", n);
    }
    if let Some(d) = cfg.idle_heartbeat.filter(|d| !d.is_zero()) {
        c.field("Idle Heartbeat", units::duration(d));
    }
    if cfg.deliver_subject.is_some() {
        c.field("Flow Control", cfg.flow_control);
    }
    if cfg.headers_only {
        c.field("Headers Only", true);
    }
    if cfg.deliver_subject.is_none()
        && let Some(d) = cfg.inactive_threshold.filter(|d| !d.is_zero())
    {
        c.field("Inactive Threshold", units::duration(d));
    }
    if let Some(d) = cfg.max_expires.filter(|d| !d.is_zero()) {
        c.field("Max Pull Expire", units::duration(d));
    }
    if let Some(n) = cfg.max_batch.filter(|n| *n > 0) {
        c.field("Max Pull Batch", n);
    }
    if let Some(n) = cfg.num_replicas.filter(|n| *n > 0) {
        c.field("Replicas", n);
    }
    if cfg.mem_storage {
        c.field("Memory Storage", true);
    }
    if let Some(until) = cfg.pause_until.filter(|t| t.unix_nanos() > 0) {
        match info.pause_remaining.filter(|_| info.paused) {
            Some(left) => c.field(
                "Paused Until Deadline",
                format!(
                    "{} ({} remaining)",
                    Civil::of(until).datetime(),
                    units::duration(Duration::from_secs(left.as_secs()))
                ),
            ),
            None => c.field(
                "Paused Until Deadline",
                format!("{} (passed)", Civil::of(until).datetime()),
            ),
        };
    }
    let meta: BTreeMap<&String, &String> = cfg
        .metadata
        .iter()
        .filter(|(k, _)| !k.starts_with("_nats."))
        .collect();
    if !meta.is_empty() {
        c.section("Metadata");
        for (k, v) in meta {
            c.field(k, v);
        }
    }
    if let Some(cl) = info
        .cluster
        .as_ref()
        .filter(|c| c.name.as_deref().is_some_and(|n| !n.is_empty()))
    {
        c.section("Cluster Information");
        c.field("Name", cl.name.as_deref().unwrap_or(""));
        c.field("Leader", cl.leader.as_deref().unwrap_or(""));
        for r in &cl.replicas {
            let state = if r.current { "current" } else { "outdated" };
            c.field("Replica", format!("{}, {state}", r.name));
        }
    }
    c.section("State");
    let last = |t: Option<Timestamp>, what: &str| {
        t.filter(|t| t.unix_nanos() > 0)
            .map(|t| format!(" {what}: {} ago", units::short_duration(t.elapsed())))
            .unwrap_or_default()
    };
    c.field(
        "Last Delivered Message",
        format!(
            "Consumer sequence: {} Stream sequence: {}{}",
            thousands(info.delivered.consumer_sequence),
            thousands(info.delivered.stream_sequence),
            last(info.delivered.last_active, "Last delivery")
        ),
    );
    if cfg.ack_policy != AckPolicy::None {
        c.field(
            "Acknowledgment Floor",
            format!(
                "Consumer sequence: {} Stream sequence: {}{}",
                thousands(info.ack_floor.consumer_sequence),
                thousands(info.ack_floor.stream_sequence),
                last(info.ack_floor.last_active, "Last Ack")
            ),
        );
        match cfg.max_ack_pending.filter(|n| *n > 0) {
            Some(max) => c.field(
                "Outstanding Acks",
                format!(
                    "{} out of maximum {}",
                    thousands(info.num_ack_pending),
                    thousands(max as u64)
                ),
            ),
            None => c.field("Outstanding Acks", thousands(info.num_ack_pending)),
        };
        c.field("Redelivered Messages", thousands(info.num_redelivered));
    }
    c.field("Unprocessed Messages", thousands(info.num_pending));
    if cfg.deliver_subject.is_none() {
        match cfg.max_waiting.filter(|n| *n > 0) {
            Some(max) => c.field(
                "Waiting Pulls",
                format!("{} of maximum {}", thousands(info.num_waiting), max),
            ),
            None => c.field(
                "Waiting Pulls",
                format!("{} of unlimited", thousands(info.num_waiting)),
            ),
        };
    } else if info.push_bound {
        match &cfg.deliver_group {
            Some(g) => c.field("Active Interest", format!("Active using Queue Group {g}")),
            None => c.field("Active Interest", "Active"),
        };
    } else {
        c.field("Active Interest", "No interest");
    }
    if info.paused
        && let Some(left) = info.pause_remaining
    {
        c.field(
            "Paused Until",
            format!(
                "{} ({} remaining)",
                Civil::of(Timestamp::from_unix_nanos(
                    Timestamp::now().unix_nanos() + left.as_nanos() as i128
                ))
                .datetime(),
                units::duration(Duration::from_secs(left.as_secs()))
            ),
        );
    }
    c.render()
}

async fn ls(conn: &ConnectionArgs, args: LsArgs) -> Result<()> {
    validate_token("stream", &args.stream)?;
    let js = conn.jetstream().await?;
    let mut consumers = js.consumers(&args.stream).await?;
    consumers.sort_by(|a, b| a.name.cmp(&b.name));
    if args.json {
        let names: Vec<&str> = consumers.iter().map(|c| c.name.as_str()).collect();
        return term::json(&json!(names));
    }
    if consumers.is_empty() {
        return term::outln("No Consumers defined");
    }
    if args.names {
        let names: Vec<&str> = consumers.iter().map(|c| c.name.as_str()).collect();
        return term::outln(&names.join("\n"));
    }
    let mut table = Table::new(&[
        "Name",
        "Description",
        "Created",
        "Ack Pending",
        "Unprocessed",
        "Last Delivery",
    ])
    .title("Consumers")
    .align(3, Align::Right)
    .align(4, Align::Right);
    for c in &consumers {
        let last = c
            .delivered
            .last_active
            .filter(|t| t.unix_nanos() > 0)
            .map_or("never".to_string(), |t| units::short_duration(t.elapsed()));
        table.row(vec![
            c.name.clone(),
            c.config.description.clone().unwrap_or_default(),
            Civil::of(c.created).datetime(),
            thousands(c.num_ack_pending),
            thousands(c.num_pending),
            last,
        ]);
    }
    term::out(table.render().as_bytes())
}

async fn next(conn: &ConnectionArgs, args: NextArgs) -> Result<()> {
    let t = &args.target;
    t.validate()?;
    let js = conn.jetstream().await?;
    let info = js.consumer_info(&t.stream, &t.consumer).await?;
    if info.config.deliver_subject.is_some() {
        return Err(CliError::usage(format!(
            "consumer {} > {} is a push consumer; use sub",
            t.stream, t.consumer
        )));
    }
    let consumer = PullConsumer::from_info(js.clone(), info)?;
    let batch = usize::try_from(args.count).unwrap_or(usize::MAX);
    // natscli waits up to --timeout for the messages; so does this.
    let mut fetch = consumer
        .fetch(FetchOptions::new(batch).expires(conn.timeout))
        .await?;
    let ack_policy = consumer.cached_info().config.ack_policy.clone();
    let mut received = 0u64;
    while let Some(msg) = fetch.next().await {
        received += 1;
        handle(&msg?, &ack_policy, &args.handling, received < args.count).await?;
    }
    if received == 0 {
        return Err(CliError::other(format!(
            "no message received from {} > {} within {}",
            t.stream,
            t.consumer,
            units::duration(conn.timeout)
        )));
    }
    Ok(())
}

/// Prints a delivered message as natscli's `next` does, then acknowledges it (or naks or
/// terminates it) as asked; `more` adds the blank line between messages.
async fn handle(msg: &JsMessage, ack_policy: &AckPolicy, h: &Handling, more: bool) -> Result<()> {
    let m = msg.message();
    if h.raw {
        let mut line = m.payload.to_vec();
        line.push(b'\n');
        term::out(&line)?;
    } else {
        let mut text = match msg.info() {
            Ok(i) => format!(
                "[{}] subj: {} / tries: {} / cons seq: {} / str seq: {} / pending: {}\n",
                Civil::of(Timestamp::now())
                    .datetime()
                    .get(11..)
                    .unwrap_or(""),
                m.subject.as_str(),
                i.delivered,
                i.consumer_sequence,
                i.stream_sequence,
                thousands(i.pending)
            ),
            Err(_) => format!("--- subject: {}\n", m.subject.as_str()),
        };
        if let Some(hd) = m.headers.as_ref().filter(|hd| !hd.is_empty()) {
            text.push_str("\nHeaders:\n\n");
            for (k, v) in hd.iter() {
                text.push_str(&format!("  {k}: {v}\n"));
            }
            text.push_str("\nData:\n\n");
        } else {
            text.push('\n');
        }
        let mut out = text.into_bytes();
        out.extend_from_slice(&m.payload);
        out.push(b'\n');
        term::out(&out)?;
    }
    if h.term {
        msg.term().await?;
        if !h.raw {
            term::outln("\nTerminated message")?;
        }
    } else if h.nak {
        msg.nak().await?;
        if !h.raw {
            term::outln("\nNegatively Acknowledged message")?;
        }
    } else if h.ack && *ack_policy != AckPolicy::None {
        msg.double_ack().await?;
        if !h.raw {
            term::outln("\nAcknowledged message")?;
        }
    }
    if !h.raw && more {
        term::outln("")?;
    }
    Ok(())
}

/// Reads a push consumer: subscribes to its delivery subject (in its queue group), answers
/// flow control, skips heartbeats, and handles `--count` messages (or all until Ctrl-C).
async fn sub(conn: &ConnectionArgs, args: SubArgs) -> Result<()> {
    let t = &args.target;
    t.validate()?;
    let js = conn.jetstream().await?;
    let info = js.consumer_info(&t.stream, &t.consumer).await?;
    let Some(deliver) = info.config.deliver_subject.clone() else {
        return Err(CliError::usage(format!(
            "consumer {} > {} is a pull consumer; use next",
            t.stream, t.consumer
        )));
    };
    let client = js.client().clone();
    let mut subscription = match &info.config.deliver_group {
        Some(g) => client.queue_subscribe(&deliver, g).await?,
        None => client.subscribe(&deliver).await?,
    };
    client.flush().await?;
    if !args.handling.raw {
        eprintln!(
            "Subscribing to {deliver} for {} > {}, acknowledgement: {}",
            t.stream,
            t.consumer,
            info.config.ack_policy.as_str()
        );
    }
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let mut received = 0u64;
    while args.count.is_none_or(|c| received < c) {
        let msg = tokio::select! {
            _ = &mut ctrl_c => break,
            m = subscription.next() => match m {
                Some(m) => m,
                None => break,
            },
        };
        if msg.status().is_some() {
            // Idle heartbeats (100 with no reply) are skipped; flow control (100 with a
            // reply) is answered so that delivery goes on (ADR-9).
            if let Some(reply) = &msg.reply {
                client.publish(reply.as_str(), kv::Bytes::new()).await?;
            }
            continue;
        }
        received += 1;
        let more = args.count.is_none_or(|c| received < c);
        handle(
            &JsMessage::new(client.clone(), msg),
            &info.config.ack_policy,
            &args.handling,
            more,
        )
        .await?;
    }
    client.flush().await?;
    Ok(())
}

/// The reply of `CONSUMER.PAUSE`: whether the consumer is paused, and until when.
#[derive(Debug)]
struct PauseReply {
    paused: bool,
    pause_until: Option<Timestamp>,
}

async fn pause_request(js: &Context, t: &Target, until: Option<Timestamp>) -> Result<PauseReply> {
    let body = match until {
        Some(u) => json!({ "pause_until": u.to_rfc3339() }),
        None => json!({}),
    };
    let reply: Value = js
        .request(
            &format!("CONSUMER.PAUSE.{}.{}", t.stream, t.consumer),
            &body,
        )
        .await?;
    Ok(PauseReply {
        paused: reply["paused"].as_bool().unwrap_or(false),
        pause_until: reply["pause_until"].as_str().and_then(Timestamp::parse),
    })
}

async fn pause(conn: &ConnectionArgs, args: PauseArgs) -> Result<()> {
    let t = &args.target;
    t.validate()?;
    let js = conn.jetstream().await?;
    js.consumer_info(&t.stream, &t.consumer).await?;
    let until = Civil::of(args.until).datetime();
    term::confirm(
        &format!("Pause Consumer {} > {} until {until}", t.stream, t.consumer),
        &format!("pause consumer {} > {}", t.stream, t.consumer),
        args.force,
    )?;
    let reply = pause_request(&js, t, Some(args.until)).await?;
    if !reply.paused {
        return Err(CliError::refused(format!(
            "consumer {} > {} was not paused",
            t.stream, t.consumer
        )));
    }
    let until = reply.pause_until.unwrap_or(args.until);
    let left = Duration::from_nanos(
        u64::try_from(until.unix_nanos() - Timestamp::now().unix_nanos()).unwrap_or(0),
    );
    term::outln(&format!(
        "Paused {} > {} until {} ({})",
        t.stream,
        t.consumer,
        Civil::of(until).datetime(),
        units::duration(Duration::from_secs(left.as_secs()))
    ))
}

async fn resume(conn: &ConnectionArgs, args: ResumeArgs) -> Result<()> {
    let t = &args.target;
    t.validate()?;
    let js = conn.jetstream().await?;
    let info = js.consumer_info(&t.stream, &t.consumer).await?;
    if !info.paused {
        return Err(CliError::refused(format!(
            "consumer {} > {} is not paused",
            t.stream, t.consumer
        )));
    }
    term::confirm(
        &format!("Resume Consumer {} > {}", t.stream, t.consumer),
        &format!("resume consumer {} > {}", t.stream, t.consumer),
        args.force,
    )?;
    let until = info
        .config
        .pause_until
        .map(|u| Civil::of(u).datetime())
        .unwrap_or_default();
    let reply = pause_request(&js, t, None).await?;
    if reply.paused {
        return Err(CliError::refused(format!(
            "consumer {} > {} is still paused",
            t.stream, t.consumer
        )));
    }
    term::outln(&format!(
        "Consumer {} > {} was resumed while previously paused until {until}",
        t.stream, t.consumer
    ))
}

async fn report(conn: &ConnectionArgs, args: ReportArgs) -> Result<()> {
    validate_token("stream", &args.stream)?;
    let js = conn.jetstream().await?;
    let stream = js.stream_info(&args.stream).await?;
    let mut consumers = js.consumers(&args.stream).await?;
    consumers.sort_by(|a, b| a.name.cmp(&b.name));
    if args.json {
        return term::json(&serde_json::to_value(&consumers).unwrap_or(Value::Null));
    }
    let mut table = Table::new(&[
        "Consumer",
        "Mode",
        "Ack Policy",
        "Ack Wait",
        "Ack Pending",
        "Redelivered",
        "Unprocessed",
        "Ack Floor",
        "Cluster",
    ])
    .title(format!(
        "Consumer report for {} with {} consumers",
        args.stream,
        thousands(stream.state.consumer_count)
    ))
    .align(4, Align::Right)
    .align(5, Align::Right)
    .align(6, Align::Right)
    .align(7, Align::Right);
    for c in &consumers {
        let mode = if c.config.deliver_subject.is_some() {
            "Push"
        } else {
            "Pull"
        };
        let unprocessed = if stream.state.messages > 0 && c.num_pending > 0 {
            format!(
                "{} / {}%",
                thousands(c.num_pending),
                c.num_pending.saturating_mul(100) / stream.state.messages.max(1)
            )
        } else {
            thousands(c.num_pending)
        };
        let cluster = c
            .cluster
            .as_ref()
            .and_then(|cl| cl.leader.clone())
            .filter(|_| {
                c.cluster
                    .as_ref()
                    .is_some_and(|cl| cl.name.as_deref().is_some_and(|n| !n.is_empty()))
            })
            .map(|l| format!("{l}*"))
            .unwrap_or_default();
        table.row(vec![
            c.name.clone(),
            mode.to_string(),
            capitalized(c.config.ack_policy.as_str()),
            units::duration(c.config.ack_wait.unwrap_or(Duration::from_secs(30))),
            thousands(c.num_ack_pending),
            thousands(c.num_redelivered),
            unprocessed,
            thousands(c.ack_floor.stream_sequence),
            cluster,
        ]);
    }
    term::out(table.render().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deliver_policies() {
        assert_eq!(parse_deliver("all").unwrap(), DeliverPolicy::All);
        assert_eq!(
            parse_deliver("subject").unwrap(),
            DeliverPolicy::LastPerSubject
        );
        assert_eq!(
            parse_deliver("42").unwrap(),
            DeliverPolicy::ByStartSequence { start_sequence: 42 }
        );
        assert!(matches!(
            parse_deliver("1h").unwrap(),
            DeliverPolicy::ByStartTime { .. }
        ));
        assert!(parse_deliver("0").is_err() && parse_deliver("sometimes").is_err());
    }

    #[test]
    fn pause_times() {
        let t = parse_until("2030-01-02 03:04:05").unwrap();
        assert_eq!(t, Timestamp::parse("2030-01-02T03:04:05Z").unwrap());
        assert!(parse_until("1h").unwrap() > Timestamp::now());
        assert!(parse_until("tomorrow").is_err());
        assert_eq!(parse_max_deliver("-1"), Ok(-1));
        assert!(parse_max_deliver("0").is_err());
    }
}
