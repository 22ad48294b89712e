//! `gnat stream …`: JetStream stream management with natscli's subcommands, flags and output
//! shapes — `add`, `info`, `ls`, `rm`, `purge`, `edit`, `get`, `view`, `report`.
//!
//! Nothing is asked interactively except confirmations: a stream is made from its flags (or a
//! `--config` JSON file), like `nats stream add --defaults`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand, ValueEnum};
use kv::jetstream::client::HeaderMap;
use kv::jetstream::{
    Context, DiscardPolicy, PurgeRequest, Republish, RetentionPolicy, StorageType,
    StoreCompression, StoredMessage, StreamConfig, StreamInfo, StreamSource, SubjectTransform,
    Timestamp,
};
use serde_json::{Value, json};

use crate::clock::Civil;
use crate::conn::ConnectionArgs;
use crate::error::{CliError, Result};
use crate::json::{headers_json, put_payload};
use crate::kv_commands::Storage;
use crate::table::{Align, Columns, Table, capitalized};
use crate::term;
use crate::units::{self, parse_duration, parse_size, thousands};

/// The stream subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum StreamCommand {
    /// Creates a new stream
    #[command(alias = "create", alias = "new")]
    Add(AddArgs),
    /// Shows a stream's configuration and state
    #[command(alias = "nfo", alias = "i")]
    Info(InfoArgs),
    /// Lists the streams
    #[command(alias = "list", alias = "l")]
    Ls(LsArgs),
    /// Removes a stream and its messages
    #[command(alias = "delete", alias = "del")]
    Rm(RmArgs),
    /// Removes messages from a stream (all, by subject, up to a sequence, or all but the newest)
    Purge(PurgeArgs),
    /// Changes a stream's configuration
    #[command(alias = "update")]
    Edit(EditArgs),
    /// Shows one stored message, by sequence or the last on a subject
    Get(GetArgs),
    /// Pages through the messages of a stream, with their headers
    View(ViewArgs),
    /// Shows a table of every stream's statistics
    Report(ReportArgs),
}

/// Retention policies of `--retention`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Retention {
    /// Keep messages until a limit removes them
    Limits,
    /// Keep messages while a consumer has not acknowledged them
    Interest,
    /// Remove each message once acknowledged (a work queue)
    #[value(alias = "workq", alias = "workqueue")]
    Work,
}

/// Discard policies of `--discard`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Discard {
    /// Remove the oldest messages to make room
    Old,
    /// Refuse new messages
    New,
}

/// Compression of `--compression`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Compression {
    /// No compression
    None,
    /// S2 compression
    S2,
}

/// The configuration flags `add` and `edit` share (natscli's names).
#[derive(Debug, Clone, Args)]
pub(crate) struct ConfigFlags {
    /// Subjects the stream consumes (repeat or comma-separate)
    #[arg(long, value_delimiter = ',', value_name = "SUBJECT")]
    subjects: Vec<String>,
    /// A description of the stream
    #[arg(long)]
    description: Option<String>,
    /// Compression (file storage only)
    #[arg(long, value_enum)]
    compression: Option<Compression>,
    /// How many replicas of the data to keep (clustered servers, 1 to 5)
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=5))]
    replicas: Option<u32>,
    /// Place the stream on servers that have this tag (repeat for several)
    #[arg(long = "tag", alias = "tags", value_name = "TAG")]
    tags: Vec<String>,
    /// Place the stream in this cluster
    #[arg(long)]
    cluster: Option<String>,
    /// Retention policy
    #[arg(long, value_enum)]
    retention: Option<Retention>,
    /// Discard policy when the stream is full
    #[arg(long, value_enum)]
    discard: Option<Discard>,
    /// Discard new messages per subject (with --discard new and --max-msgs-per-subject)
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    discard_per_subject: Option<bool>,
    /// Maximum age of messages (30s, 1h, 7d; 0 for unlimited)
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    max_age: Option<Duration>,
    /// Maximum bytes kept (1GiB; -1 for unlimited)
    #[arg(long, value_parser = parse_size, value_name = "BYTES", allow_hyphen_values = true)]
    max_bytes: Option<u64>,
    /// Maximum number of consumers (-1 for unlimited)
    #[arg(long, allow_negative_numbers = true, value_parser = clap::value_parser!(i64).range(-1..))]
    max_consumers: Option<i64>,
    /// Largest message accepted (1MiB; -1 for unlimited)
    #[arg(long, value_parser = parse_size, value_name = "BYTES", allow_hyphen_values = true)]
    max_msg_size: Option<u64>,
    /// Maximum number of messages kept (-1 for unlimited)
    #[arg(long, allow_negative_numbers = true, value_parser = clap::value_parser!(i64).range(-1..))]
    max_msgs: Option<i64>,
    /// Maximum number of messages kept per subject (-1 for unlimited)
    #[arg(long, allow_negative_numbers = true, value_parser = clap::value_parser!(i64).range(-1..))]
    max_msgs_per_subject: Option<i64>,
    /// Duplicate message tracking window
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    dupe_window: Option<Duration>,
    /// Mirror another stream
    #[arg(long, value_name = "STREAM")]
    mirror: Option<String>,
    /// Source messages from another stream (repeat for several)
    #[arg(long = "source", value_name = "STREAM")]
    sources: Vec<String>,
    /// Allow roll-ups by publishing with the Nats-Rollup header
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    allow_rollup: Option<bool>,
    /// Refuse message deletes through the API
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    deny_delete: Option<bool>,
    /// Refuse purges through the API
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    deny_purge: Option<bool>,
    /// Allow direct get of messages from any replica
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    allow_direct: Option<bool>,
    /// Allow per-message TTLs (Nats-TTL)
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    allow_msg_ttl: Option<bool>,
    /// Make the stream a distributed counter
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    allow_counter: Option<bool>,
    /// Allow atomic batch publishing
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    allow_batch: Option<bool>,
    /// Allow message schedules
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    allow_schedules: Option<bool>,
    /// How long subject delete markers stay
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    subject_del_markers_ttl: Option<Duration>,
    /// Subject transform source
    #[arg(long, value_name = "SOURCE", requires = "transform_destination")]
    transform_source: Option<String>,
    /// Subject transform destination
    #[arg(long, value_name = "DEST")]
    transform_destination: Option<String>,
    /// Metadata (repeat for several)
    #[arg(long, value_name = "KEY=VALUE", value_parser = parse_pair)]
    metadata: Vec<(String, String)>,
    /// Republish messages on these subjects to --republish-destination
    #[arg(long, value_name = "SOURCE", requires = "republish_destination")]
    republish_source: Option<String>,
    /// Where --republish-source messages are republished
    #[arg(long, value_name = "DEST")]
    republish_destination: Option<String>,
    /// Republish only the headers, no bodies
    #[arg(long, requires = "republish_destination")]
    republish_headers: bool,
    /// The most inactive threshold a consumer may have
    #[arg(long, value_parser = parse_duration, value_name = "THRESHOLD")]
    limit_consumer_inactive: Option<Duration>,
    /// The most ack pending a consumer may have
    #[arg(long, value_name = "PENDING", value_parser = clap::value_parser!(i64).range(1..))]
    limit_consumer_max_pending: Option<i64>,
    /// Produce JSON output
    #[arg(short = 'j', long)]
    json: bool,
}

/// `KEY=VALUE`.
pub(crate) fn parse_pair(text: &str) -> std::result::Result<(String, String), String> {
    match text.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(format!("{text:?} is not KEY=VALUE")),
    }
}

/// `gnat stream add`.
#[derive(Debug, Args)]
pub(crate) struct AddArgs {
    /// The stream name
    stream: Option<String>,
    /// Read the configuration from this JSON file (flags override it)
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Storage backend
    #[arg(long, value_enum)]
    storage: Option<Storage>,
    /// The first sequence number
    #[arg(long, value_name = "SEQ")]
    first_sequence: Option<u64>,
    /// Accept the defaults for everything not given (the only mode; for natscli scripts)
    #[arg(long)]
    defaults: bool,
    #[command(flatten)]
    flags: ConfigFlags,
}

/// `gnat stream info`.
#[derive(Debug, Args)]
pub(crate) struct InfoArgs {
    /// The stream
    stream: String,
    /// Show only the state
    #[arg(long)]
    state: bool,
    /// Produce JSON output
    #[arg(short = 'j', long)]
    json: bool,
}

/// `gnat stream ls`.
#[derive(Debug, Args)]
pub(crate) struct LsArgs {
    /// Only streams with subjects matching this subject
    #[arg(long)]
    subject: Option<String>,
    /// Show just the stream names
    #[arg(short = 'n', long)]
    names: bool,
    /// Produce JSON output (the names)
    #[arg(short = 'j', long)]
    json: bool,
}

/// `gnat stream rm`.
#[derive(Debug, Args)]
pub(crate) struct RmArgs {
    /// The stream
    stream: String,
    /// Remove without asking
    #[arg(short = 'f', long)]
    force: bool,
}

/// `gnat stream purge`.
#[derive(Debug, Args)]
pub(crate) struct PurgeArgs {
    /// The stream
    stream: String,
    /// Purge only this subject (wildcards allowed)
    #[arg(long)]
    subject: Option<String>,
    /// Purge up to, not including, this sequence
    #[arg(long, value_name = "SEQUENCE", conflicts_with = "keep", value_parser = clap::value_parser!(u64).range(1..))]
    seq: Option<u64>,
    /// Keep this many of the newest messages
    #[arg(long, value_name = "MESSAGES")]
    keep: Option<u64>,
    /// Purge without asking
    #[arg(short = 'f', long)]
    force: bool,
    /// Produce JSON output
    #[arg(short = 'j', long)]
    json: bool,
}

/// `gnat stream edit`.
#[derive(Debug, Args)]
pub(crate) struct EditArgs {
    /// The stream
    stream: String,
    /// Read the new configuration from this JSON file (flags override it)
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Edit without asking
    #[arg(short = 'f', long)]
    force: bool,
    /// Only show the differences; change nothing
    #[arg(long)]
    dry_run: bool,
    /// Remove the mirror configuration
    #[arg(long, conflicts_with = "mirror")]
    no_mirror: bool,
    /// Remove the subject transform
    #[arg(long, conflicts_with = "transform_source")]
    no_transform: bool,
    /// Remove the republish configuration
    #[arg(long, conflicts_with = "republish_source")]
    no_republish: bool,
    #[command(flatten)]
    flags: ConfigFlags,
}

/// `gnat stream get`.
#[derive(Debug, Args)]
pub(crate) struct GetArgs {
    /// The stream
    stream: String,
    /// The message sequence
    #[arg(required_unless_present = "last_for", conflicts_with = "last_for")]
    id: Option<u64>,
    /// The last message on this subject instead
    #[arg(short = 'S', long, value_name = "SUBJECT")]
    last_for: Option<String>,
    /// Produce JSON output
    #[arg(short = 'j', long)]
    json: bool,
}

/// `gnat stream view`.
#[derive(Debug, Args)]
pub(crate) struct ViewArgs {
    /// The stream
    stream: String,
    /// Messages per page (1 to 25)
    #[arg(default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=25))]
    size: u64,
    /// Start at this sequence
    #[arg(long, value_name = "SEQ", conflicts_with = "since")]
    id: Option<u64>,
    /// Start with messages received this long ago (1d3h5m2s)
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    since: Option<Duration>,
    /// Only messages on this subject (wildcards allowed)
    #[arg(long)]
    subject: Option<String>,
    /// Show only the message bodies
    #[arg(long)]
    raw: bool,
}

/// `gnat stream report`.
#[derive(Debug, Args)]
pub(crate) struct ReportArgs {
    /// Only streams with subjects matching this subject
    #[arg(long)]
    subject: Option<String>,
    /// Sort by number of consumers
    #[arg(short = 'o', long, group = "sort")]
    consumers: bool,
    /// Sort by number of messages
    #[arg(short = 'm', long, group = "sort")]
    messages: bool,
    /// Sort by name
    #[arg(short = 'n', long, group = "sort")]
    name: bool,
    /// Produce JSON output
    #[arg(short = 'j', long)]
    json: bool,
}

/// Runs `gnat stream …`.
pub(crate) async fn run(conn: &ConnectionArgs, command: StreamCommand) -> Result<()> {
    // Flags and files are checked before anything is sent.
    match command {
        StreamCommand::Add(args) => {
            let config = add_config(&args)?;
            let js = conn.jetstream().await?;
            let info = js.create_stream(&config).await?;
            if !args.flags.json {
                term::outln(&format!("Stream {} was created\n", info.config.name))?;
            }
            show(&info, false, args.flags.json)
        }
        StreamCommand::Info(args) => {
            let js = conn.jetstream().await?;
            let info = js.stream_info(&args.stream).await?;
            show(&info, args.state, args.json)
        }
        StreamCommand::Ls(args) => ls(conn, args).await,
        StreamCommand::Rm(args) => {
            kv::jetstream::context::validate_token("stream", &args.stream)?;
            let js = conn.jetstream().await?;
            js.stream_info(&args.stream).await?;
            term::confirm(
                &format!("Really delete Stream {}", args.stream),
                &format!("delete stream {}", args.stream),
                args.force,
            )?;
            js.delete_stream(&args.stream).await?;
            Ok(())
        }
        StreamCommand::Purge(args) => purge(conn, args).await,
        StreamCommand::Edit(args) => edit(conn, args).await,
        StreamCommand::Get(args) => get(conn, args).await,
        StreamCommand::View(args) => view(conn, args).await,
        StreamCommand::Report(args) => report(conn, args).await,
    }
}

/// Reads a `--config` JSON file.
fn read_config(path: &PathBuf) -> Result<StreamConfig> {
    let text = std::fs::read(path)
        .map_err(|e| CliError::usage(format!("cannot read {}: {e}", path.display())))?;
    serde_json::from_slice(&text).map_err(|e| {
        CliError::usage(format!(
            "{}: not a stream configuration: {e}",
            path.display()
        ))
    })
}

/// The configuration `add` creates.
fn add_config(args: &AddArgs) -> Result<StreamConfig> {
    let mut config = match &args.config {
        Some(path) => read_config(path)?,
        None => StreamConfig::default(),
    };
    match (&args.stream, config.name.is_empty()) {
        (Some(name), _) => config.name = name.clone(),
        (None, true) => return Err(CliError::usage("a stream name is required")),
        (None, false) => {}
    }
    kv::jetstream::context::validate_token("stream", &config.name)?;
    if let Some(s) = args.storage {
        config.storage = Some(match s {
            Storage::File => StorageType::File,
            Storage::Memory => StorageType::Memory,
        });
    }
    if let Some(seq) = args.first_sequence {
        config.first_seq = Some(seq);
    }
    apply(&mut config, &args.flags)?;
    if config.subjects.as_ref().is_none_or(Vec::is_empty)
        && config.mirror.is_none()
        && config.sources.as_ref().is_none_or(Vec::is_empty)
    {
        // natscli asks; without a question the stream's name is its subject, as the server does.
        config.subjects = Some(vec![config.name.clone()]);
    }
    Ok(config)
}

/// Sets what the flags say on `config`.
fn apply(config: &mut StreamConfig, f: &ConfigFlags) -> Result<()> {
    let limit = |n: u64| -> i64 {
        if n == 0 {
            -1
        } else {
            i64::try_from(n).unwrap_or(i64::MAX)
        }
    };
    if !f.subjects.is_empty() {
        for s in &f.subjects {
            if s.is_empty() || s.contains(char::is_whitespace) {
                return Err(CliError::usage(format!("invalid subject {s:?}")));
            }
        }
        config.subjects = Some(f.subjects.clone());
    }
    if let Some(d) = &f.description {
        config.description = Some(d.clone());
    }
    if let Some(c) = f.compression {
        config.compression = Some(match c {
            Compression::None => StoreCompression::None,
            Compression::S2 => StoreCompression::S2,
        });
    }
    if let Some(r) = f.replicas {
        config.num_replicas = Some(r);
    }
    if !f.tags.is_empty() || f.cluster.is_some() {
        let mut p = config.placement.take().unwrap_or_default();
        if !f.tags.is_empty() {
            p.tags = Some(f.tags.clone());
        }
        if let Some(c) = &f.cluster {
            p.cluster = Some(c.clone());
        }
        config.placement = Some(p);
    }
    if let Some(r) = f.retention {
        config.retention = Some(match r {
            Retention::Limits => RetentionPolicy::Limits,
            Retention::Interest => RetentionPolicy::Interest,
            Retention::Work => RetentionPolicy::WorkQueue,
        });
    }
    if let Some(d) = f.discard {
        config.discard = Some(match d {
            Discard::Old => DiscardPolicy::Old,
            Discard::New => DiscardPolicy::New,
        });
    }
    if let Some(b) = f.discard_per_subject {
        config.discard_new_per_subject = Some(b);
        if b {
            config.discard = Some(DiscardPolicy::New);
        }
    }
    if let Some(d) = f.max_age {
        config.max_age = Some(d);
    }
    if let Some(b) = f.max_bytes {
        config.max_bytes = Some(limit(b));
    }
    if let Some(n) = f.max_consumers {
        config.max_consumers = Some(n);
    }
    if let Some(b) = f.max_msg_size {
        let size = i32::try_from(b)
            .map_err(|_| CliError::usage(format!("--max-msg-size {b} is too large")))?;
        config.max_msg_size = Some(if size == 0 { -1 } else { size });
    }
    if let Some(n) = f.max_msgs {
        config.max_msgs = Some(n);
    }
    if let Some(n) = f.max_msgs_per_subject {
        config.max_msgs_per_subject = Some(n);
    }
    if let Some(d) = f.dupe_window {
        config.duplicate_window = Some(d);
    }
    if let Some(m) = &f.mirror {
        kv::jetstream::context::validate_token("stream", m)?;
        config.mirror = Some(StreamSource::new(m.clone()));
        config.subjects = None;
    }
    if !f.sources.is_empty() {
        let mut sources = Vec::new();
        for s in &f.sources {
            kv::jetstream::context::validate_token("stream", s)?;
            sources.push(StreamSource::new(s.clone()));
        }
        config.sources = Some(sources);
    }
    let flags = [
        (f.allow_rollup, &mut config.allow_rollup_hdrs),
        (f.deny_delete, &mut config.deny_delete),
        (f.deny_purge, &mut config.deny_purge),
        (f.allow_direct, &mut config.allow_direct),
        (f.allow_msg_ttl, &mut config.allow_msg_ttl),
        (f.allow_counter, &mut config.allow_msg_counter),
        (f.allow_batch, &mut config.allow_atomic),
        (f.allow_schedules, &mut config.allow_msg_schedules),
    ];
    for (flag, field) in flags {
        if let Some(b) = flag {
            *field = Some(b);
        }
    }
    if let Some(d) = f.subject_del_markers_ttl {
        config.subject_delete_marker_ttl = Some(d);
    }
    if let Some(dest) = &f.transform_destination {
        config.subject_transform = Some(SubjectTransform::new(
            f.transform_source
                .clone()
                .unwrap_or_else(|| ">".to_string()),
            dest.clone(),
        ));
    }
    for (k, v) in &f.metadata {
        config
            .metadata
            .get_or_insert_with(Default::default)
            .insert(k.clone(), v.clone());
    }
    if let Some(dest) = &f.republish_destination {
        let r = Republish {
            src: Some(
                f.republish_source
                    .clone()
                    .unwrap_or_else(|| ">".to_string()),
            ),
            dest: dest.clone(),
            headers_only: f.republish_headers.then_some(true),
        };
        config.republish = Some(r);
    }
    if f.limit_consumer_inactive.is_some() || f.limit_consumer_max_pending.is_some() {
        let mut l = config.consumer_limits.take().unwrap_or_default();
        if let Some(d) = f.limit_consumer_inactive {
            l.inactive_threshold = Some(d);
        }
        if let Some(n) = f.limit_consumer_max_pending {
            l.max_ack_pending = Some(n);
        }
        config.consumer_limits = Some(l);
    }
    Ok(())
}

/// Prints a stream's information (or only its state), or its JSON.
fn show(info: &StreamInfo, state_only: bool, json: bool) -> Result<()> {
    if json {
        return term::json(&serde_json::to_value(info).unwrap_or(Value::Null));
    }
    term::out(info_block(info, state_only).as_bytes())
}

/// A count limit: `unlimited` when negative or zero.
fn limit_count(n: Option<i64>) -> String {
    match n {
        Some(n) if n > 0 => thousands(n as u64),
        _ => "unlimited".to_string(),
    }
}

fn source_line(s: &StreamSource) -> String {
    let mut parts = vec![s.name.clone()];
    if let Some(seq) = s.opt_start_seq {
        parts.push(format!("Start Seq: {}", thousands(seq)));
    }
    if let Some(t) = s.opt_start_time {
        parts.push(format!("Start Time: {}", Civil::of(t).datetime()));
    }
    if let Some(f) = s.filter_subject.as_deref().filter(|f| !f.is_empty()) {
        parts.push(format!("Subject: {f}"));
    }
    if let Some(e) = &s.external {
        parts.push(format!("API Prefix: {}", e.api));
    }
    parts.join(", ")
}

/// natscli's `stream info` block.
pub(crate) fn info_block(info: &StreamInfo, state_only: bool) -> String {
    let cfg = &info.config;
    let created = Civil::of(info.created).datetime();
    let mut c = if state_only {
        Columns::new(format!("State for Stream {} created {created}", cfg.name))
    } else {
        Columns::new(format!(
            "Information for Stream {} created {created}",
            cfg.name
        ))
    };
    if !state_only {
        c.field_if_some("Description", cfg.description.as_deref());
        if let Some(s) = cfg.subjects.as_ref().filter(|s| !s.is_empty()) {
            c.field("Subjects", s.join(", "));
        }
        c.field("Replicas", cfg.num_replicas.unwrap_or(1));
        if cfg.sealed == Some(true) {
            c.field("Sealed", true);
        }
        c.field(
            "Storage",
            capitalized(cfg.storage.as_ref().map_or("file", |s| s.as_str())),
        );
        if let Some(comp) = cfg
            .compression
            .as_ref()
            .filter(|c| **c != StoreCompression::None)
        {
            c.field("Compression", comp.as_str());
        }
        if let Some(seq) = cfg.first_seq.filter(|s| *s > 0) {
            c.field("First Sequence", seq);
        }
        if let Some(p) = &cfg.placement {
            c.field_if_some("Placement Cluster", p.cluster.as_deref());
            if let Some(tags) = p.tags.as_ref().filter(|t| !t.is_empty()) {
                c.field("Placement Tags", tags.join(", "));
            }
        }
        c.section("Options");
        if let Some(t) = cfg
            .subject_transform
            .as_ref()
            .filter(|t| !t.dest.is_empty())
        {
            let src = if t.src.is_empty() { ">" } else { &t.src };
            c.field("Subject Transform", format!("{src} to {}", t.dest));
        }
        if let Some(r) = &cfg.republish {
            let label = if r.headers_only == Some(true) {
                "Republishing Headers"
            } else {
                "Republishing"
            };
            c.field(
                label,
                format!("{} to {}", r.src.as_deref().unwrap_or(">"), r.dest),
            );
        }
        c.field(
            "Retention",
            capitalized(cfg.retention.as_ref().map_or("limits", |r| r.as_str())),
        );
        c.field("Acknowledgments", cfg.no_ack != Some(true));
        let mut discard = capitalized(cfg.discard.as_ref().map_or("old", |d| d.as_str()));
        if cfg.discard_new_per_subject == Some(true) {
            discard.push_str(" Per Subject");
        }
        c.field("Discard Policy", discard);
        c.field(
            "Duplicate Window",
            units::duration(cfg.duplicate_window.unwrap_or_default()),
        );
        if cfg.allow_direct == Some(true) {
            c.field("Direct Get", true);
        }
        if cfg.mirror_direct == Some(true) {
            c.field("Mirror Direct Get", true);
        }
        c.field(
            "Allows Atomic Batch Publish",
            cfg.allow_atomic == Some(true),
        );
        c.field("Allows Counters", cfg.allow_msg_counter == Some(true));
        c.field("Allows Msg Delete", cfg.deny_delete != Some(true));
        c.field("Allows Per-Message TTL", cfg.allow_msg_ttl == Some(true));
        c.field("Allows Purge", cfg.deny_purge != Some(true));
        c.field("Allows Schedules", cfg.allow_msg_schedules == Some(true));
        if let Some(d) = cfg.subject_delete_marker_ttl.filter(|d| !d.is_zero()) {
            c.field("Subject Delete Markers TTL", units::duration(d));
        }
        c.field("Allows Rollups", cfg.allow_rollup_hdrs == Some(true));
        c.section("Limits");
        c.field("Maximum Messages", limit_count(cfg.max_msgs));
        c.field("Maximum Per Subject", limit_count(cfg.max_msgs_per_subject));
        c.field(
            "Maximum Bytes",
            units::limit_size(cfg.max_bytes.unwrap_or(-1)),
        );
        c.field(
            "Maximum Age",
            units::limit_duration(cfg.max_age.unwrap_or_default()),
        );
        c.field(
            "Maximum Message Size",
            units::limit_size(i64::from(cfg.max_msg_size.unwrap_or(-1))),
        );
        c.field("Maximum Consumers", limit_count(cfg.max_consumers));
        if let Some(l) = &cfg.consumer_limits {
            if let Some(d) = l.inactive_threshold.filter(|d| !d.is_zero()) {
                c.field("Consumer Inactive Threshold", units::duration(d));
            }
            if let Some(n) = l.max_ack_pending.filter(|n| *n > 0) {
                c.field("Consumer Max Ack Pending", n);
            }
        }
        let meta: BTreeMap<&String, &String> = cfg
            .metadata
            .iter()
            .flatten()
            .filter(|(k, _)| !k.starts_with("_nats."))
            .collect();
        if !meta.is_empty() {
            c.section("Metadata");
            for (k, v) in meta {
                c.field(k, v);
            }
        }
        if cfg.mirror.is_some() || cfg.sources.as_ref().is_some_and(|s| !s.is_empty()) {
            c.section("Replication");
        }
        if let Some(m) = &cfg.mirror {
            c.field("Mirror", source_line(m));
        }
        for (i, s) in cfg.sources.iter().flatten().enumerate() {
            c.field(if i == 0 { "Sources" } else { "" }, source_line(s));
        }
    }
    if let Some(cluster) = info
        .cluster
        .as_ref()
        .filter(|c| c.name.as_deref().is_some_and(|n| !n.is_empty()))
    {
        c.section("Cluster Information");
        c.field("Name", cluster.name.as_deref().unwrap_or(""));
        c.field("Leader", cluster.leader.as_deref().unwrap_or(""));
        for p in &cluster.replicas {
            let mut state = vec![p.name.clone()];
            state.push(if p.current { "current" } else { "outdated" }.to_string());
            if p.offline {
                state.push("OFFLINE".to_string());
            }
            state.push(format!("seen {} ago", units::short_duration(p.active)));
            c.field("Replica", state.join(", "));
        }
    }
    let st = &info.state;
    c.section("State");
    c.field("Messages", thousands(st.messages));
    c.field("Bytes", units::size(st.bytes));
    if st.first_seq == 0 || st.messages == 0 {
        c.field("First Sequence", thousands(st.first_seq));
    } else {
        c.field(
            "First Sequence",
            format!(
                "{} @ {}",
                thousands(st.first_seq),
                Civil::of(st.first_ts).datetime()
            ),
        );
    }
    if st.last_seq == 0 {
        c.field("Last Sequence", thousands(st.last_seq));
    } else {
        c.field(
            "Last Sequence",
            format!(
                "{} @ {}",
                thousands(st.last_seq),
                Civil::of(st.last_ts).datetime()
            ),
        );
    }
    c.field("Deleted Messages", thousands(st.num_deleted));
    c.field("Active Consumers", thousands(st.consumer_count));
    if st.num_subjects > 0 {
        c.field("Number of Subjects", thousands(st.num_subjects));
    }
    c.render()
}

/// How long ago `ts` was, for "Last Message" columns (`never` for the zero time).
pub(crate) fn ago(ts: Timestamp) -> String {
    if ts.unix_nanos() <= 0 {
        return "never".to_string();
    }
    units::short_duration(ts.elapsed())
}

async fn infos(js: &Context, subject: Option<&str>) -> Result<Vec<StreamInfo>> {
    Ok(match subject {
        Some(s) => js.streams_matching(s).await?,
        None => js.streams().await?,
    })
}

async fn ls(conn: &ConnectionArgs, args: LsArgs) -> Result<()> {
    let js = conn.jetstream().await?;
    let mut streams = infos(&js, args.subject.as_deref()).await?;
    if args.json {
        let mut names: Vec<&str> = streams.iter().map(|s| s.config.name.as_str()).collect();
        names.sort_unstable();
        return term::json(&json!(names));
    }
    if streams.is_empty() {
        return term::outln("No Streams defined");
    }
    if args.names {
        let mut names: Vec<&str> = streams.iter().map(|s| s.config.name.as_str()).collect();
        names.sort_unstable();
        return term::outln(&names.join("\n"));
    }
    streams.sort_by(|a, b| {
        a.state
            .bytes
            .cmp(&b.state.bytes)
            .then_with(|| a.config.name.cmp(&b.config.name))
    });
    let title = match &args.subject {
        Some(s) => format!("Streams matching {s}"),
        None => "Streams".to_string(),
    };
    let mut table = Table::new(&[
        "Name",
        "Description",
        "Subjects",
        "Created",
        "Messages",
        "Size",
        "Last Message",
    ])
    .title(title)
    .align(4, Align::Right)
    .align(5, Align::Right);
    for s in &streams {
        table.row(vec![
            s.config.name.clone(),
            s.config.description.clone().unwrap_or_default(),
            s.config.subjects.clone().unwrap_or_default().join(", "),
            Civil::of(s.created).datetime(),
            thousands(s.state.messages),
            units::size(s.state.bytes),
            ago(s.state.last_ts),
        ]);
    }
    term::out(table.render().as_bytes())
}

async fn purge(conn: &ConnectionArgs, args: PurgeArgs) -> Result<()> {
    kv::jetstream::context::validate_token("stream", &args.stream)?;
    let js = conn.jetstream().await?;
    js.stream_info(&args.stream).await?;
    term::confirm(
        &format!("Really purge Stream {}", args.stream),
        &format!("purge stream {}", args.stream),
        args.force,
    )?;
    let mut request = PurgeRequest::new();
    if let Some(s) = &args.subject {
        request = request.filter(s.clone());
    }
    if let Some(seq) = args.seq {
        request = request.seq(seq);
    }
    if let Some(keep) = args.keep {
        request = request.keep(keep);
    }
    let purged = js.purge_stream(&args.stream, request).await?;
    let info = js.stream_info(&args.stream).await?;
    if args.json {
        let mut v = serde_json::to_value(&info).unwrap_or(Value::Null);
        if let Value::Object(o) = &mut v {
            o.insert("purged".into(), json!(purged));
        }
        return term::json(&v);
    }
    term::outln(&format!(
        "Purged {} messages from {}\n",
        thousands(purged),
        args.stream
    ))?;
    term::out(info_block(&info, false).as_bytes())
}

/// The lines that differ between two configurations, as `-field: old` / `+field: new`.
fn config_diff(old: &StreamConfig, new: &StreamConfig) -> Vec<String> {
    let flat = |c: &StreamConfig| -> BTreeMap<String, String> {
        match serde_json::to_value(c) {
            Ok(Value::Object(o)) => o
                .into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, v.to_string()))
                .collect(),
            _ => BTreeMap::new(),
        }
    };
    let (a, b) = (flat(old), flat(new));
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    let mut lines = Vec::new();
    for k in keys {
        let (x, y) = (a.get(k), b.get(k));
        if x != y {
            if let Some(x) = x {
                lines.push(format!("-  {k}: {x}"));
            }
            if let Some(y) = y {
                lines.push(format!("+  {k}: {y}"));
            }
        }
    }
    lines
}

async fn edit(conn: &ConnectionArgs, args: EditArgs) -> Result<()> {
    kv::jetstream::context::validate_token("stream", &args.stream)?;
    let from_file = match &args.config {
        Some(path) => Some(read_config(path)?),
        None => None,
    };
    let js = conn.jetstream().await?;
    let info = js.stream_info(&args.stream).await?;
    let old = info.config.clone();
    let mut new = match from_file {
        Some(mut c) => {
            if !c.name.is_empty() && c.name != args.stream {
                return Err(CliError::usage(format!(
                    "the configuration is for stream {}, not {}",
                    c.name, args.stream
                )));
            }
            c.name = args.stream.clone();
            c
        }
        None => old.clone(),
    };
    apply(&mut new, &args.flags)?;
    if args.no_mirror {
        new.mirror = None;
    }
    if args.no_transform {
        new.subject_transform = None;
    }
    if args.no_republish {
        new.republish = None;
    }
    let diff = config_diff(&old, &new);
    if diff.is_empty() {
        return term::outln("No difference in configuration");
    }
    if !args.flags.json || args.dry_run {
        term::outln(&format!("Differences (-old +new):\n{}", diff.join("\n")))?;
    }
    if args.dry_run {
        return Ok(());
    }
    term::confirm(
        &format!("Really edit Stream {}", args.stream),
        &format!("edit stream {}", args.stream),
        args.force,
    )?;
    let info = js.update_stream(&new).await?;
    if !args.flags.json {
        term::outln(&format!("\nStream {} was updated\n", info.config.name))?;
    }
    show(&info, false, args.flags.json)
}

/// A stored message's JSON.
fn message_json(stream: &str, m: &StoredMessage) -> Value {
    let mut o = serde_json::Map::new();
    o.insert("stream".into(), json!(stream));
    o.insert("subject".into(), json!(m.subject));
    o.insert("seq".into(), json!(m.sequence));
    o.insert("time".into(), json!(m.time.to_rfc3339()));
    o.insert("headers".into(), headers_json(m.headers.as_ref()));
    put_payload(&mut o, "data", &m.payload);
    Value::Object(o)
}

/// Headers as `  Name: value` lines, without the ones direct get adds.
fn header_lines(headers: Option<&HeaderMap>) -> String {
    const HIDDEN: [&str; 7] = [
        "Nats-Subject",
        "Nats-Stream",
        "Nats-Sequence",
        "Nats-Time-Stamp",
        "Nats-Num-Pending",
        "Nats-Last-Sequence",
        "Nats-UpTo-Sequence",
    ];
    let mut out = String::new();
    for (k, v) in headers.into_iter().flat_map(|h| h.iter()) {
        if HIDDEN.iter().any(|h| h.eq_ignore_ascii_case(k)) {
            continue;
        }
        out.push_str(&format!("  {k}: {v}\n"));
    }
    out
}

/// A body as natscli prints it: the data, a newline, and a blank line.
fn body(data: &[u8]) -> Vec<u8> {
    let mut out = data.to_vec();
    if !out.ends_with(b"\n") {
        out.push(b'\n');
    }
    out.push(b'\n');
    out
}

async fn get(conn: &ConnectionArgs, args: GetArgs) -> Result<()> {
    kv::jetstream::context::validate_token("stream", &args.stream)?;
    let js = conn.jetstream().await?;
    let m = match (&args.last_for, args.id) {
        (Some(subject), _) => js.get_last_message(&args.stream, subject).await?,
        (None, Some(seq)) => js.get_message(&args.stream, seq).await?,
        (None, None) => return Err(CliError::usage("give a sequence or --last-for SUBJECT")),
    };
    if args.json {
        return term::json(&message_json(&args.stream, &m));
    }
    let mut text = format!(
        "Item: {}#{} received {} ({} ago) on Subject {}\n\n",
        args.stream,
        m.sequence,
        Civil::of(m.time).datetime(),
        units::short_duration(m.time.elapsed()),
        m.subject
    );
    let headers = header_lines(m.headers.as_ref());
    if !headers.is_empty() {
        text.push_str("Headers:\n");
        text.push_str(&headers);
        text.push('\n');
    }
    let mut out = text.into_bytes();
    out.extend_from_slice(&body(&m.payload));
    term::out(&out)
}

async fn view(conn: &ConnectionArgs, args: ViewArgs) -> Result<()> {
    kv::jetstream::context::validate_token("stream", &args.stream)?;
    let js = conn.jetstream().await?;
    let info = js.stream_info(&args.stream).await?;
    let subject = args.subject.clone().unwrap_or_else(|| ">".to_string());
    let mut next = match (args.id, args.since) {
        (Some(id), _) => id.max(1),
        (None, Some(since)) => {
            // The first message at or after the time: found by walking from the first
            // sequence would read the whole stream, so ask the server for it.
            let start = Timestamp::from_unix_nanos(
                Timestamp::now().unix_nanos() - since.as_nanos() as i128,
            );
            first_since(&js, &args.stream, start)
                .await?
                .unwrap_or(u64::MAX)
        }
        (None, None) => info.state.first_seq.max(1),
    };
    let interactive = std::io::IsTerminal::is_terminal(&std::io::stdin());
    loop {
        let mut shown = 0;
        while shown < args.size {
            if next > info.state.last_seq {
                eprintln!("Reached apparent end of data");
                return Ok(());
            }
            let m = match js.get_next_message(&args.stream, next, &subject).await {
                Ok(m) => m,
                Err(e) if e.is_no_message() => {
                    eprintln!("Reached apparent end of data");
                    return Ok(());
                }
                Err(e) => return Err(e.into()),
            };
            next = m.sequence + 1;
            shown += 1;
            if args.raw {
                let mut line = m.payload.to_vec();
                line.push(b'\n');
                term::out(&line)?;
                continue;
            }
            let mut text = format!(
                "[{}] Subject: {} Received: {}\n",
                m.sequence,
                m.subject,
                Civil::of(m.time).datetime()
            );
            let headers = header_lines(m.headers.as_ref());
            if !headers.is_empty() {
                text.push('\n');
                text.push_str(&headers);
            }
            text.push('\n');
            let mut out = text.into_bytes();
            out.extend_from_slice(&body(&m.payload));
            term::out(&out)?;
        }
        if interactive && !term::ask_yes("Next Page?", true)? {
            return Ok(());
        }
    }
}

/// The sequence of the first message stored at or after `start` (`STREAM.MSG.GET` with a
/// `start_time`, which needs no direct get).
async fn first_since(js: &Context, stream: &str, start: Timestamp) -> Result<Option<u64>> {
    let request = json!({ "start_time": start.to_rfc3339() });
    match js
        .request::<Value, Value>(&format!("STREAM.MSG.GET.{stream}"), &request)
        .await
    {
        Ok(reply) => Ok(reply["message"]["seq"].as_u64()),
        Err(e) if e.is_no_message() => Ok(None),
        Err(e) => Err(e.into()),
    }
}

async fn report(conn: &ConnectionArgs, args: ReportArgs) -> Result<()> {
    let js = conn.jetstream().await?;
    let mut streams = infos(&js, args.subject.as_deref()).await?;
    if args.json {
        return term::json(&serde_json::to_value(&streams).unwrap_or(Value::Null));
    }
    if streams.is_empty() {
        return term::outln("No Streams defined");
    }
    if args.name {
        streams.sort_by(|a, b| a.config.name.cmp(&b.config.name));
    } else if args.consumers {
        streams.sort_by_key(|s| s.state.consumer_count);
    } else if args.messages {
        streams.sort_by_key(|s| s.state.messages);
    } else {
        streams.sort_by_key(|s| s.state.bytes);
    }
    let total: u64 = streams.len() as u64;
    let mut table = Table::new(&[
        "Stream",
        "Storage",
        "Placement",
        "Consumers",
        "Messages",
        "Bytes",
        "Lost",
        "Deleted",
        "Replicas",
    ])
    .title(format!("Stream Report ({} streams)", thousands(total)))
    .align(3, Align::Right)
    .align(4, Align::Right)
    .align(5, Align::Right)
    .align(6, Align::Right)
    .align(7, Align::Right);
    for s in &streams {
        let placement = s.config.placement.as_ref().map_or(String::new(), |p| {
            let mut parts = Vec::new();
            if let Some(c) = &p.cluster {
                parts.push(format!("cluster: {c}"));
            }
            if let Some(t) = p.tags.as_ref().filter(|t| !t.is_empty()) {
                parts.push(format!("tags: {}", t.join(", ")));
            }
            parts.join(" ")
        });
        let lost = s.state.lost.as_ref().map_or(0, |l| l.msgs.len() as u64);
        let replicas = match &s.cluster {
            Some(c) if !c.replicas.is_empty() || c.leader.is_some() => {
                let mut names: Vec<String> = c.leader.iter().map(|l| format!("{l}*")).collect();
                names.extend(c.replicas.iter().map(|r| r.name.clone()));
                names.join(", ")
            }
            _ => String::new(),
        };
        table.row(vec![
            s.config.name.clone(),
            capitalized(s.config.storage.as_ref().map_or("file", |st| st.as_str())),
            placement,
            thousands(s.state.consumer_count),
            thousands(s.state.messages),
            units::size(s.state.bytes),
            thousands(lost),
            thousands(s.state.num_deleted),
            replicas,
        ]);
    }
    term::out(table.render().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_and_diffs() {
        assert_eq!(parse_pair("a=b=c").unwrap(), ("a".into(), "b=c".into()));
        assert!(parse_pair("=x").is_err() && parse_pair("x").is_err());
        let old = StreamConfig::new("S").max_msgs(-1);
        let new = StreamConfig::new("S").max_msgs(10);
        assert_eq!(
            config_diff(&old, &new),
            vec!["-  max_msgs: -1".to_string(), "+  max_msgs: 10".to_string()]
        );
        assert!(config_diff(&old, &old).is_empty());
    }

    #[test]
    fn bodies_end_with_a_blank_line() {
        assert_eq!(body(b"x"), b"x\n\n");
        assert_eq!(body(b"x\n"), b"x\n\n");
    }
}
