//! `gnat kv …`: the Key-Value subcommands of the `nats kv` CLI, with its output shapes.

use std::time::Duration;

use clap::{Args, Subcommand, ValueEnum};
use kv::jetstream::Context;
use kv::{Config, StorageType, Store, WatchEvent, WatchOptions};
use serde_json::{Value, json};

use crate::clock::Civil;
use crate::conn::ConnectionArgs;
use crate::error::{CliError, Result};
use crate::table::{Align, Table};
use crate::term;
use crate::units::{self, parse_duration, parse_size};

mod show;

/// The Key-Value subcommands.
// Parsed once per run: the size of `add`'s many flags does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub(crate) enum KvCommand {
    /// Adds a new Key-Value bucket
    Add(AddArgs),
    /// Puts a value into a key (the value is read from stdin when not given)
    Put {
        /// The bucket
        bucket: String,
        /// The key
        key: String,
        /// The value [default: stdin, to its end]
        value: Option<String>,
    },
    /// Gets a value for a key
    Get {
        /// The bucket
        bucket: String,
        /// The key
        key: String,
        /// The value at this revision instead of the latest
        #[arg(long, value_name = "REVISION", value_parser = clap::value_parser!(u64).range(1..))]
        revision: Option<u64>,
        /// Print only the value, byte for byte (no newline added)
        #[arg(long, conflicts_with = "json")]
        raw: bool,
        /// Print the entry as JSON
        #[arg(long)]
        json: bool,
    },
    /// Puts a value into a key only if the key is new or its last operation was a delete or purge
    Create {
        /// The bucket
        bucket: String,
        /// The key
        key: String,
        /// The value [default: empty]
        value: Option<String>,
    },
    /// Updates a key with a new value if its latest revision is the one given
    Update {
        /// The bucket
        bucket: String,
        /// The key
        key: String,
        /// The new value
        value: String,
        /// The revision the key must be at [default: 0, the key must not exist]
        revision: Option<u64>,
    },
    /// Deletes a key (keeping its history), or the whole bucket when no key is given
    #[command(alias = "rm")]
    Del {
        /// The bucket
        bucket: String,
        /// The key [default: the whole bucket]
        key: Option<String>,
        /// Delete without asking
        #[arg(short, long)]
        force: bool,
    },
    /// Deletes a key and its history, leaving a purge marker
    Purge {
        /// The bucket
        bucket: String,
        /// The key
        key: String,
        /// Purge without asking
        #[arg(short, long)]
        force: bool,
    },
    /// Shows the retained history of a key
    History {
        /// The bucket
        bucket: String,
        /// The key
        key: String,
        /// Print the entries as JSON
        #[arg(long)]
        json: bool,
    },
    /// Puts the value of an earlier revision back as the newest value
    Revert {
        /// The bucket
        bucket: String,
        /// The key
        key: String,
        /// The revision whose value to put back
        revision: u64,
        /// Revert without asking
        #[arg(short, long)]
        force: bool,
    },
    /// Shows the status of a bucket
    #[command(alias = "status")]
    Info {
        /// The bucket
        bucket: String,
        /// Print the status as JSON
        #[arg(long)]
        json: bool,
    },
    /// Watches a bucket, or the keys matching a filter, for changes (Ctrl-C to stop)
    Watch(WatchArgs),
    /// Lists the buckets, or the keys of a bucket
    #[command(alias = "list")]
    Ls {
        /// The bucket whose keys to list [default: list the buckets]
        bucket: Option<String>,
        /// With a bucket: only the keys matching this filter
        filter: Option<String>,
        /// Only the bucket names, one per line
        #[arg(short, long)]
        names: bool,
        /// A table: the buckets (without a bucket), or the keys with their revisions
        #[arg(short, long)]
        verbose: bool,
        /// With --verbose and a bucket: show the values too
        #[arg(long)]
        display_value: bool,
        /// Print the list as JSON
        #[arg(long)]
        json: bool,
    },
    /// Reclaims the space of deleted and purged keys
    Compact {
        /// The bucket
        bucket: String,
        /// Keep delete markers younger than this (0: remove them all)
        #[arg(long, value_name = "DURATION", default_value = "30m", value_parser = parse_duration)]
        older_than: Duration,
        /// Compact without asking
        #[arg(short, long)]
        force: bool,
    },
}

/// `gnat kv add`.
#[derive(Debug, Args)]
pub(crate) struct AddArgs {
    /// The bucket to create
    bucket: String,
    /// How many revisions of each key to keep (1 to 64)
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=64))]
    history: u32,
    /// How long values are kept [default: forever]
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    ttl: Option<Duration>,
    /// The most the bucket may hold (e.g. 10MiB) [default: unlimited]
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    max_bucket_size: Option<u64>,
    /// The largest value accepted (e.g. 1KiB) [default: unlimited]
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    max_value_size: Option<u64>,
    /// Where the bucket is stored
    #[arg(long, value_enum, default_value_t = Storage::File)]
    storage: Storage,
    /// Number of replicas (clustered JetStream)
    #[arg(long, default_value_t = 1)]
    replicas: u32,
    /// Compress the stored data (S2)
    #[arg(long)]
    compress: bool,
    /// A description of the bucket
    #[arg(long)]
    description: Option<String>,
    /// Turn on limit markers (and per-key TTLs) with this marker TTL
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    marker_ttl: Option<Duration>,
    /// Place the bucket on servers that have these tags (repeat or comma-separate)
    #[arg(long, value_delimiter = ',', value_name = "TAG")]
    tags: Vec<String>,
    /// Place the bucket in this cluster
    #[arg(long)]
    cluster: Option<String>,
    /// Republish the values of these keys (a subject such as `$KV.B.>`) to
    /// --republish-destination
    #[arg(long, value_name = "SRC", requires = "republish_destination")]
    republish_source: Option<String>,
    /// Where changes are republished
    #[arg(long, value_name = "DEST")]
    republish_destination: Option<String>,
    /// Republish only the headers, no values
    #[arg(long, requires = "republish_destination")]
    republish_headers: bool,
    /// Make the bucket a mirror of another bucket
    #[arg(long, value_name = "BUCKET", conflicts_with = "sources")]
    mirror: Option<String>,
    /// With --mirror: the JetStream domain the mirrored bucket is in
    #[arg(long, value_name = "DOMAIN", requires = "mirror")]
    mirror_domain: Option<String>,
    /// Source the values of another bucket into this one (repeat for several)
    #[arg(long = "source", value_name = "BUCKET")]
    sources: Vec<String>,
    /// Metadata (repeat for several)
    #[arg(long, value_name = "KEY=VALUE", value_parser = crate::stream::parse_pair)]
    metadata: Vec<(String, String)>,
    /// Print the new bucket's status as JSON
    #[arg(long)]
    json: bool,
}

/// Storage backends of `--storage`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Storage {
    /// On disk
    File,
    /// In memory
    Memory,
}

/// `gnat kv watch`.
#[derive(Debug, Args)]
pub(crate) struct WatchArgs {
    /// The bucket
    bucket: String,
    /// A key or a pattern (`*` one token, `>` the rest) [default: every key]
    filter: Option<String>,
    /// Start with every retained revision instead of the latest of each key
    #[arg(long, conflicts_with_all = ["updates_only", "revision"])]
    history: bool,
    /// Show only changes made from now on
    #[arg(long, conflicts_with = "revision")]
    updates_only: bool,
    /// Skip deletes and purges
    #[arg(long)]
    ignore_deletes: bool,
    /// Start at this revision
    #[arg(long, value_name = "REVISION", value_parser = clap::value_parser!(u64).range(1..))]
    revision: Option<u64>,
    /// Print one JSON object per line
    #[arg(long)]
    json: bool,
}

/// Runs a `gnat kv` subcommand.
pub(crate) async fn run(conn: &ConnectionArgs, command: KvCommand) -> Result<()> {
    let js = conn.jetstream().await?;
    match command {
        KvCommand::Add(args) => add(&js, args).await,
        KvCommand::Put { bucket, key, value } => {
            let store = kv::bind(&js, &bucket).await?;
            let value = match value {
                Some(v) => v.into_bytes(),
                None => term::read_stdin()?,
            };
            store.put(&key, value.clone()).await?;
            echo(&value)
        }
        KvCommand::Get {
            bucket,
            key,
            revision,
            raw,
            json,
        } => get(&js, &bucket, &key, revision, raw, json).await,
        KvCommand::Create { bucket, key, value } => {
            let store = kv::bind(&js, &bucket).await?;
            let value = value.unwrap_or_default().into_bytes();
            store.create(&key, value.clone()).await?;
            echo(&value)
        }
        KvCommand::Update {
            bucket,
            key,
            value,
            revision,
        } => {
            let store = kv::bind(&js, &bucket).await?;
            let value = value.into_bytes();
            store
                .update(&key, value.clone(), revision.unwrap_or(0))
                .await?;
            echo(&value)
        }
        KvCommand::Del { bucket, key, force } => match key {
            Some(key) => {
                let store = kv::bind(&js, &bucket).await?;
                kv::validate_key(&key)?;
                term::confirm(
                    &format!("Delete key {bucket} > {key}?"),
                    &format!("delete key {bucket} > {key}"),
                    force,
                )?;
                store.delete(&key).await?;
                Ok(())
            }
            None => {
                kv::bind(&js, &bucket).await?;
                term::confirm(
                    &format!("Really delete Key-Value bucket {bucket}?"),
                    &format!("delete bucket {bucket}"),
                    force,
                )?;
                kv::delete_bucket(&js, &bucket).await?;
                Ok(())
            }
        },
        KvCommand::Purge { bucket, key, force } => {
            let store = kv::bind(&js, &bucket).await?;
            kv::validate_key(&key)?;
            term::confirm(
                &format!("Purge key {bucket} > {key}?"),
                &format!("purge key {bucket} > {key}"),
                force,
            )?;
            store.purge(&key).await?;
            Ok(())
        }
        KvCommand::History { bucket, key, json } => {
            let store = kv::bind(&js, &bucket).await?;
            history(&store, &key, json).await
        }
        KvCommand::Revert {
            bucket,
            key,
            revision,
            force,
        } => revert(&js, &bucket, &key, revision, force).await,
        KvCommand::Info { bucket, json } => {
            let status = kv::bind(&js, &bucket).await?.status().await?;
            print_status(&status, json)
        }
        KvCommand::Watch(args) => watch(&js, args).await,
        KvCommand::Ls {
            bucket: Some(bucket),
            filter,
            json,
            verbose,
            display_value,
            ..
        } => {
            list_keys(
                &js,
                &bucket,
                filter.as_deref(),
                json,
                verbose,
                display_value,
            )
            .await
        }
        KvCommand::Ls {
            bucket: None,
            names,
            json,
            ..
        } => list_buckets(&js, names, json).await,
        KvCommand::Compact {
            bucket,
            older_than,
            force,
        } => {
            let store = kv::bind(&js, &bucket).await?;
            term::confirm(
                &format!(
                    "Purge all historic values and audit trails for deleted keys in bucket {bucket}?"
                ),
                &format!("compact bucket {bucket}"),
                force,
            )?;
            let removed = store.purge_deletes(older_than).await?;
            term::outln(&format!(
                "Compacted bucket {bucket}: removed {removed} messages"
            ))
        }
    }
}

/// Echoes a written value, as `nats kv put/create/update` do.
fn echo(value: &[u8]) -> Result<()> {
    let mut line = value.to_vec();
    if line.last() != Some(&b'\n') {
        line.push(b'\n');
    }
    term::out(&line)
}

async fn add(js: &Context, args: AddArgs) -> Result<()> {
    let mut config = Config::new(args.bucket)
        .history(args.history)
        .replicas(args.replicas)
        .compression(args.compress)
        .storage(match args.storage {
            Storage::File => StorageType::File,
            Storage::Memory => StorageType::Memory,
        });
    if let Some(ttl) = args.ttl {
        config = config.ttl(ttl);
    }
    if let Some(max) = args.max_bucket_size {
        let max =
            i64::try_from(max).map_err(|_| CliError::usage("--max-bucket-size is too large"))?;
        config = config.max_bytes(max);
    }
    if let Some(max) = args.max_value_size {
        let max = i32::try_from(max).map_err(|_| {
            CliError::usage(format!(
                "--max-value-size is above the limit of {}",
                i32::MAX
            ))
        })?;
        config = config.max_value_size(max);
    }
    if let Some(description) = args.description {
        config = config.description(description);
    }
    if let Some(ttl) = args.marker_ttl {
        config = config.limit_marker_ttl(ttl);
    }
    if !args.tags.is_empty() || args.cluster.is_some() {
        config = config.placement(kv::Placement {
            tags: (!args.tags.is_empty()).then(|| args.tags.clone()),
            cluster: args.cluster.clone(),
            ..kv::Placement::default()
        });
    }
    if let Some(dest) = &args.republish_destination {
        let republish = kv::Republish {
            src: Some(
                args.republish_source
                    .clone()
                    .unwrap_or_else(|| ">".to_string()),
            ),
            dest: dest.clone(),
            headers_only: args.republish_headers.then_some(true),
        };
        config = config.republish(republish);
    }
    if let Some(origin) = &args.mirror {
        kv::validate_bucket(origin)?;
        let mut source = kv::StreamSource::new(origin.clone());
        if let Some(domain) = &args.mirror_domain {
            kv::jetstream::context::validate_token("domain", domain)?;
            source = source.external(format!("$JS.{domain}.API"), None);
        }
        config = config.mirror(source);
    }
    for origin in &args.sources {
        kv::validate_bucket(origin)?;
        config = config.source(kv::StreamSource::new(origin.clone()));
    }
    for (k, v) in &args.metadata {
        config = config.metadata(k.clone(), v.clone());
    }
    let store = kv::create_bucket(js, config).await?;
    let status = store.status().await?;
    print_status(&status, args.json)
}

fn print_status(status: &kv::Status, json: bool) -> Result<()> {
    if json {
        term::json(&show::status_json(status))
    } else {
        term::out(show::bucket_info(status).as_bytes())
    }
}

async fn get(
    js: &Context,
    bucket: &str,
    key: &str,
    revision: Option<u64>,
    raw: bool,
    json: bool,
) -> Result<()> {
    let store = kv::bind(js, bucket).await?;
    let entry =
        match revision {
            Some(r) => store.entry_at(key, r).await?.ok_or_else(|| {
                CliError::refused(format!("key {key} has no value at revision {r}"))
            })?,
            None => store.entry(key).await?.ok_or_else(|| {
                CliError::refused(format!("key {key} not found in bucket {bucket}"))
            })?,
        };
    if json {
        return term::json(&show::entry_json(&entry));
    }
    if raw {
        return term::out(&entry.value);
    }
    let mut text = show::get_header(&entry).into_bytes();
    text.extend_from_slice(b"\n\n");
    text.extend_from_slice(&entry.value);
    text.push(b'\n');
    term::out(&text)
}

async fn history(store: &Store, key: &str, json: bool) -> Result<()> {
    let entries = store.history(key).await?;
    if entries.is_empty() {
        return Err(CliError::refused(format!(
            "key {key} not found in bucket {}",
            store.bucket()
        )));
    }
    if json {
        let list: Vec<Value> = entries.iter().map(show::entry_json).collect();
        return term::json(&Value::Array(list));
    }
    term::out(show::history_table(store.bucket(), key, &entries).as_bytes())
}

async fn revert(js: &Context, bucket: &str, key: &str, revision: u64, force: bool) -> Result<()> {
    let store = kv::bind(js, bucket).await?;
    let old = store.entry_at(key, revision).await?.ok_or_else(|| {
        CliError::refused(format!("key {key} has no value at revision {revision}"))
    })?;
    let mut text = format!("Revision: {revision}\n\n").into_bytes();
    text.extend_from_slice(&old.value);
    text.extend_from_slice(b"\n\n");
    term::out(&text)?;
    term::confirm(
        &format!("Really revert to revision {revision}?"),
        &format!("revert {key} to revision {revision}"),
        force,
    )?;
    store.revert_to(&old).await?;
    history(&store, key, false).await
}

async fn watch(js: &Context, args: WatchArgs) -> Result<()> {
    let store = kv::bind(js, &args.bucket).await?;
    let mut options = WatchOptions::new();
    if args.history {
        options = options.include_history();
    }
    if args.updates_only {
        options = options.updates_only();
    }
    if args.ignore_deletes {
        options = options.ignore_deletes();
    }
    if let Some(r) = args.revision {
        options = options.from_revision(r);
    }
    let filter = args.filter.unwrap_or_else(|| ">".to_string());
    let mut watcher = store.watch_with([filter.as_str()], options).await?;
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        tokio::select! {
            _ = &mut ctrl_c => return Ok(()),
            event = watcher.next() => match event {
                None => return Err(CliError::other("the watch ended: the connection closed")),
                Some(Err(e)) => return Err(e.into()),
                Some(Ok(WatchEvent::InitialDone)) => {}
                Some(Ok(WatchEvent::Entry(entry))) => {
                    if args.json {
                        term::json_line(&show::entry_json(&entry))?;
                    } else {
                        term::outln(&show::watch_line(&entry))?;
                    }
                }
            },
        }
    }
}

async fn list_keys(
    js: &Context,
    bucket: &str,
    filter: Option<&str>,
    json: bool,
    verbose: bool,
    display_value: bool,
) -> Result<()> {
    let store = kv::bind(js, bucket).await?;
    let keys = match filter {
        Some(f) => store.keys_matching([f]).await?,
        None => store.keys().await?,
    };
    if json {
        return term::json(&json!(keys));
    }
    if keys.is_empty() {
        eprintln!("No keys found in bucket {bucket}");
        return Ok(());
    }
    if verbose {
        let mut headers = vec!["Key", "Created", "Delta", "Revision"];
        if display_value {
            headers.push("Value");
        }
        let mut table = Table::new(&headers)
            .title(format!("Contents for bucket '{bucket}'"))
            .align(2, Align::Right)
            .align(3, Align::Right);
        for key in &keys {
            // A key deleted since the listing is skipped.
            let Some(e) = store.entry(key).await? else {
                continue;
            };
            let mut row = vec![
                e.key.to_string(),
                Civil::of(e.created).datetime(),
                e.delta.to_string(),
                e.revision.to_string(),
            ];
            if display_value {
                row.push(crate::table::value_cell(&e.value, 60));
            }
            table.row(row);
        }
        return term::out(table.render().as_bytes());
    }
    let mut text = String::new();
    for key in keys {
        text.push_str(&key);
        text.push('\n');
    }
    term::out(text.as_bytes())
}

async fn list_buckets(js: &Context, names: bool, json: bool) -> Result<()> {
    if names {
        let mut list = kv::bucket_names(js).await?;
        list.sort();
        if json {
            return term::json(&json!(list));
        }
        let text: String = list.iter().map(|n| format!("{n}\n")).collect();
        return term::out(text.as_bytes());
    }
    let mut statuses = kv::bucket_statuses(js).await?;
    statuses.sort_by(|a, b| a.bucket().cmp(b.bucket()));
    if json {
        let list: Vec<Value> = statuses.iter().map(show::status_json).collect();
        return term::json(&Value::Array(list));
    }
    if statuses.is_empty() {
        eprintln!("No Key-Value buckets found");
        return Ok(());
    }
    let mut table = Table::new(&[
        "Bucket",
        "Description",
        "Created",
        "Size",
        "Values",
        "Last Update",
    ])
    .title("Key-Value Buckets")
    .align(4, Align::Right);
    for s in &statuses {
        let state = &s.stream_info().state;
        let last = if state.messages == 0 {
            "never".to_string()
        } else {
            let ago = Duration::from_secs(state.last_ts.elapsed().as_secs());
            format!("{} ago", units::duration(ago))
        };
        table.row(vec![
            s.bucket().to_string(),
            s.description().unwrap_or("").to_string(),
            Civil::of(s.stream_info().created).datetime(),
            units::size(s.bytes()),
            s.values().to_string(),
            last,
        ]);
    }
    term::out(table.render().as_bytes())
}
