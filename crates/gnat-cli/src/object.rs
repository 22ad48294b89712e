//! `gnat object …`: the Object Store subcommands of the `nats object` CLI, with its output
//! shapes (the bucket information block, the object information block, the bucket contents
//! table, `Wrote: …` after a get, `[time] PUT|DEL bucket > name` while watching), a progress
//! bar on stderr for large puts and gets when stderr is a terminal, and `--json` on the read
//! commands.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use object::jetstream::Context;
use object::{Config, ObjectInfo, ObjectMeta, Placement, Status, StorageType, WatchEvent};
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

use crate::clock::Civil;
use crate::conn::ConnectionArgs;
use crate::error::{CliError, Result};
use crate::json::base64_decode;
use crate::kv_commands::Storage;
use crate::progress::{Bar, Counting, Unit};
use crate::table::{Align, Columns, Table, capitalized};
use crate::term;
use crate::units::{self, parse_duration, parse_size};

/// Puts and gets above this size draw a progress bar (when stderr is a terminal).
const PROGRESS_ABOVE: u64 = 4 << 20;

/// The Object Store subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum ObjectCommand {
    /// Adds a new Object Store bucket
    Add(AddArgs),
    /// Puts a file into the store (stdin when no file is given; then --name is required)
    Put(PutArgs),
    /// Retrieves a file from the store
    Get(GetArgs),
    /// Shows information about a bucket or an object
    #[command(alias = "show")]
    Info {
        /// The bucket
        bucket: String,
        /// The object [default: show the bucket]
        name: Option<String>,
        /// Print as JSON
        #[arg(long)]
        json: bool,
    },
    /// Lists the buckets, or the contents of a bucket
    #[command(alias = "list")]
    Ls {
        /// The bucket whose objects to list [default: list the buckets]
        bucket: Option<String>,
        /// Only the names, one per line
        #[arg(short, long)]
        names: bool,
        /// Include deleted objects
        #[arg(long)]
        deleted: bool,
        /// Print the list as JSON
        #[arg(long)]
        json: bool,
    },
    /// Deletes an object, or the whole bucket when no object is given
    #[command(alias = "rm")]
    Del {
        /// The bucket
        bucket: String,
        /// The object [default: the whole bucket, after confirmation]
        name: Option<String>,
        /// Delete without asking
        #[arg(short, long)]
        force: bool,
    },
    /// Seals a bucket, preventing any further change
    Seal {
        /// The bucket
        bucket: String,
        /// Seal without asking
        #[arg(short, long)]
        force: bool,
        /// Print the sealed bucket's status as JSON
        #[arg(long)]
        json: bool,
    },
    /// Watches a bucket for changes (Ctrl-C to stop)
    Watch {
        /// The bucket
        bucket: String,
        /// Show only changes made from now on
        #[arg(long)]
        updates_only: bool,
        /// Print one JSON object per line
        #[arg(long)]
        json: bool,
    },
}

/// `gnat object add`.
#[derive(Debug, Args)]
pub(crate) struct AddArgs {
    /// The bucket to create
    bucket: String,
    /// How long objects are kept [default: forever]
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    ttl: Option<Duration>,
    /// Number of replicas (clustered JetStream)
    #[arg(long, default_value_t = 1)]
    replicas: u32,
    /// The most the bucket may hold (e.g. 10GiB) [default: unlimited]
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    max_bucket_size: Option<u64>,
    /// A description of the bucket
    #[arg(long)]
    description: Option<String>,
    /// Where the bucket is stored
    #[arg(long, value_enum, default_value_t = Storage::File)]
    storage: Storage,
    /// Place the bucket on servers with these tags
    #[arg(long = "tags", value_name = "TAG")]
    tags: Vec<String>,
    /// Place the bucket in this cluster
    #[arg(long)]
    cluster: Option<String>,
    /// Bucket metadata, KEY=VALUE (repeatable)
    #[arg(long, value_name = "KEY=VALUE", value_parser = parse_pair)]
    metadata: Vec<(String, String)>,
    /// Compress the stored data (S2)
    #[arg(long)]
    compress: bool,
    /// Print the new bucket's status as JSON
    #[arg(long)]
    json: bool,
}

/// `gnat object put`.
#[derive(Debug, Args)]
pub(crate) struct PutArgs {
    /// The bucket
    bucket: String,
    /// The file to put [default: stdin]
    file: Option<PathBuf>,
    /// The object's name [default: the file's name]
    #[arg(long)]
    name: Option<String>,
    /// A description of the object
    #[arg(long)]
    description: Option<String>,
    /// A header, K:V (repeatable)
    #[arg(short = 'H', long = "header", value_name = "K:V")]
    headers: Vec<String>,
    /// The chunk size (e.g. 256KiB) [default: 128KiB]
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    chunk_size: Option<u64>,
    /// No progress bar
    #[arg(long)]
    no_progress: bool,
    /// Replace an existing object without asking
    #[arg(short, long)]
    force: bool,
    /// Print the stored object's info as JSON
    #[arg(long)]
    json: bool,
}

/// `gnat object get`.
#[derive(Debug, Args)]
pub(crate) struct GetArgs {
    /// The bucket
    bucket: String,
    /// The object
    name: String,
    /// Where to write it (`-` for stdout) [default: the object name's last path component]
    #[arg(short = 'O', long = "output", value_name = "FILE")]
    output: Option<PathBuf>,
    /// No progress bar
    #[arg(long)]
    no_progress: bool,
    /// Overwrite an existing file without asking
    #[arg(short, long)]
    force: bool,
}

fn parse_pair(text: &str) -> std::result::Result<(String, String), String> {
    match text.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("{text:?} is not KEY=VALUE")),
    }
}

/// The Object Store layer's own message, without its prefix and the JetStream error it
/// appends in parentheses.
fn object_message(err: &object::Error) -> String {
    let text = err.to_string();
    let mut text = text
        .strip_prefix("object store: ")
        .unwrap_or(&text)
        .to_string();
    if let Some(source) = err.jetstream() {
        let suffix = format!(" ({source})");
        if let Some(stripped) = text.strip_suffix(&suffix) {
            text = stripped.to_string();
        }
    }
    text
}

impl From<object::Error> for CliError {
    fn from(err: object::Error) -> CliError {
        use object::ErrorKind as K;
        match err.kind() {
            K::InvalidBucketName | K::InvalidName | K::InvalidConfig | K::InvalidInput => {
                CliError::usage(object_message(&err))
            }
            K::JetStream => match err.jetstream() {
                Some(js) => CliError::from(js.clone()),
                None => CliError::other(object_message(&err)),
            },
            K::Timeout | K::Read | K::Decode | K::DigestMismatch | K::SizeMismatch => {
                CliError::other(object_message(&err))
            }
            K::ChunksMissing => CliError::other(object_message(&err)),
            _ => CliError::refused(object_message(&err)),
        }
    }
}

/// Runs a `gnat object` subcommand.
pub(crate) async fn run(conn: &ConnectionArgs, command: ObjectCommand) -> Result<()> {
    let js = conn.jetstream().await?;
    match command {
        ObjectCommand::Add(args) => add(&js, args).await,
        ObjectCommand::Put(args) => put(&js, args).await,
        ObjectCommand::Get(args) => get(&js, args).await,
        ObjectCommand::Info { bucket, name, json } => {
            let store = object::bind(&js, &bucket).await?;
            match name {
                None => show_status(&store.status().await?, json),
                Some(name) => {
                    let info = store.info(&name).await?;
                    if json {
                        term::json(&info_json(&info))
                    } else {
                        term::out(object_info(&info).as_bytes())
                    }
                }
            }
        }
        ObjectCommand::Ls {
            bucket,
            names,
            deleted,
            json,
        } => match bucket {
            None => list_buckets(&js, names, json).await,
            Some(bucket) => list_objects(&js, &bucket, names, deleted, json).await,
        },
        ObjectCommand::Del {
            bucket,
            name,
            force,
        } => {
            let store = object::bind(&js, &bucket).await?;
            match name {
                Some(name) => {
                    let info = store.info(&name).await?;
                    term::confirm(
                        &format!(
                            "Delete {} byte file {bucket} > {name}?",
                            units::size(info.size)
                        ),
                        &format!("delete {bucket} > {name}"),
                        force,
                    )?;
                    store.delete(&name).await?;
                    term::outln(&format!("Removed {bucket} > {name}"))?;
                    show_status(&store.status().await?, false)
                }
                None => {
                    term::confirm(
                        &format!("Delete bucket {bucket} and all its files?"),
                        &format!("delete bucket {bucket}"),
                        force,
                    )?;
                    object::delete_bucket(&js, &bucket).await?;
                    Ok(())
                }
            }
        }
        ObjectCommand::Seal {
            bucket,
            force,
            json,
        } => {
            let store = object::bind(&js, &bucket).await?;
            term::confirm(
                &format!(
                    "Really seal Bucket {bucket}, sealed buckets can not be unsealed or modified"
                ),
                &format!("seal bucket {bucket}"),
                force,
            )?;
            let status = store.seal().await?;
            if !json {
                term::outln(&format!("{bucket} has been sealed"))?;
            }
            show_status(&status, json)
        }
        ObjectCommand::Watch {
            bucket,
            updates_only,
            json,
        } => watch(&js, &bucket, updates_only, json).await,
    }
}

async fn add(js: &Context, args: AddArgs) -> Result<()> {
    let mut config = Config::new(&args.bucket)
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
        config = config.max_bytes(i64::try_from(max).unwrap_or(i64::MAX));
    }
    if let Some(d) = args.description {
        config = config.description(d);
    }
    if args.cluster.is_some() || !args.tags.is_empty() {
        config = config.placement(Placement {
            cluster: args.cluster,
            tags: (!args.tags.is_empty()).then_some(args.tags),
            ..Placement::default()
        });
    }
    for (k, v) in args.metadata {
        config = config.metadata(k, v);
    }
    let store = object::create_bucket(js, config).await?;
    show_status(&store.status().await?, args.json)
}

async fn put(js: &Context, args: PutArgs) -> Result<()> {
    let store = object::bind(js, &args.bucket).await?;
    let name = match (&args.name, &args.file) {
        (Some(n), _) => n.clone(),
        (None, Some(f)) => f.to_string_lossy().into_owned(),
        (None, None) => {
            return Err(CliError::usage(
                "--name is required when reading from stdin",
            ));
        }
    };
    let mut meta = ObjectMeta::new(name.as_str());
    if let Some(d) = args.description {
        meta = meta.description(d);
    }
    for h in &args.headers {
        let Some((k, v)) = h.split_once(':') else {
            return Err(CliError::usage(format!("header {h:?} is not K:V")));
        };
        meta = meta.header(k.trim(), v.trim());
    }
    if let Some(c) = args.chunk_size {
        let c = u32::try_from(c)
            .map_err(|_| CliError::usage(format!("chunk size {c} is too large")))?;
        meta = meta.chunk_size(c);
    }
    if !args.force
        && let Ok(existing) = store.info(&name).await
    {
        term::out(object_info(&existing).as_bytes())?;
        term::confirm(
            &format!("Replace existing file {} > {name}", args.bucket),
            &format!("replace {} > {name}", args.bucket),
            false,
        )?;
    }
    let info = match &args.file {
        Some(path) => {
            let file = tokio::fs::File::open(path)
                .await
                .map_err(|e| CliError::other(format!("cannot open {}: {e}", path.display())))?;
            let total = file.metadata().await.map(|m| m.len()).unwrap_or(0);
            let bar = Bar::new(
                Some(total),
                Unit::Bytes,
                !args.no_progress && total > PROGRESS_ABOVE,
            );
            let info = store
                .put(
                    meta,
                    Counting {
                        inner: file,
                        bar: &bar,
                    },
                )
                .await;
            bar.finish();
            info?
        }
        None => store.put(meta, tokio::io::stdin()).await?,
    };
    if args.json {
        term::json(&info_json(&info))
    } else {
        term::out(object_info(&info).as_bytes())
    }
}

async fn get(js: &Context, args: GetArgs) -> Result<()> {
    let store = object::bind(js, &args.bucket).await?;
    let mut reader = store.get(&args.name).await?;
    let info = reader.info().clone();
    let to_stdout = args.output.as_deref() == Some(Path::new("-"));
    let start = Instant::now();
    if to_stdout {
        let mut stdout = tokio::io::stdout();
        while let Some(chunk) = reader.next_chunk().await {
            stdout.write_all(&chunk?).await?;
        }
        stdout.flush().await?;
        return Ok(());
    }
    let out = match args.output {
        Some(p) => p,
        None => PathBuf::from(
            Path::new(&info.name)
                .file_name()
                .map(|n| n.to_os_string())
                .unwrap_or_else(|| info.name.clone().into()),
        ),
    };
    if tokio::fs::metadata(&out).await.is_ok() {
        term::confirm(
            &format!("Replace existing target file {}", out.display()),
            &format!("overwrite {}", out.display()),
            args.force,
        )?;
    }
    let mut file = tokio::fs::File::create(&out)
        .await
        .map_err(|e| CliError::other(format!("cannot create {}: {e}", out.display())))?;
    let bar = Bar::new(
        Some(info.size),
        Unit::Bytes,
        !args.no_progress && info.size > PROGRESS_ABOVE,
    );
    let mut written: u64 = 0;
    let copied: Result<()> = async {
        while let Some(chunk) = reader.next_chunk().await {
            let chunk = chunk?;
            file.write_all(&chunk).await?;
            written += chunk.len() as u64;
            bar.set(written);
        }
        file.flush().await?;
        Ok(())
    }
    .await;
    bar.finish();
    if let Err(e) = copied {
        drop(file);
        let _ = tokio::fs::remove_file(&out).await;
        return Err(e);
    }
    let elapsed = start.elapsed();
    let mut line = format!(
        "Wrote: {} to {} in {}",
        units::size(written),
        out.display(),
        units::short_duration(elapsed)
    );
    if elapsed > Duration::from_secs(2) {
        let rate = written as f64 / elapsed.as_secs_f64();
        let _ = write!(line, " average {}/s", units::size(rate as u64));
    }
    term::outln(&line)
}

async fn list_buckets(js: &Context, names: bool, json: bool) -> Result<()> {
    let mut statuses = object::bucket_statuses(js).await?;
    if json {
        return term::json(&Value::Array(statuses.iter().map(status_json).collect()));
    }
    if statuses.is_empty() {
        return term::outln("No Object Store buckets found");
    }
    if names {
        for s in &statuses {
            term::outln(s.bucket())?;
        }
        return Ok(());
    }
    statuses.sort_by_key(|s| s.size());
    let mut table = Table::new(&["Bucket", "Description", "Created", "Size", "Last Update"])
        .title("Object Store Buckets")
        .align(3, Align::Right);
    for s in &statuses {
        let info = s.stream_info();
        table.row(vec![
            s.bucket().to_string(),
            s.description().unwrap_or("").to_string(),
            Civil::of(info.created).datetime(),
            units::size(s.size()),
            units::short_duration(info.state.last_ts.elapsed()),
        ]);
    }
    term::out(table.render().as_bytes())
}

async fn list_objects(
    js: &Context,
    bucket: &str,
    names: bool,
    deleted: bool,
    json: bool,
) -> Result<()> {
    let store = object::bind(js, bucket).await?;
    let objects = store.list_with(deleted).await?;
    if json {
        return term::json(&Value::Array(objects.iter().map(info_json).collect()));
    }
    if objects.is_empty() {
        return term::outln("No entries found");
    }
    if names {
        for o in &objects {
            term::outln(&o.name)?;
        }
        return Ok(());
    }
    let mut table = Table::new(&["Name", "Size", "Time"])
        .title("Bucket Contents")
        .align(1, Align::Right);
    for o in &objects {
        let name = if o.deleted {
            format!("{} (deleted)", o.name)
        } else {
            o.name.clone()
        };
        table.row(vec![
            name,
            units::size(o.size),
            Civil::of(o.mtime).rfc3339(),
        ]);
    }
    term::out(table.render().as_bytes())
}

async fn watch(js: &Context, bucket: &str, updates_only: bool, json: bool) -> Result<()> {
    let store = object::bind(js, bucket).await?;
    let options = if updates_only {
        object::WatchOptions::new().updates_only()
    } else {
        object::WatchOptions::new()
    };
    let mut watcher = store.watch_with(options).await?;
    loop {
        let event = tokio::select! {
            e = watcher.next() => e,
            _ = tokio::signal::ctrl_c() => return Ok(()),
        };
        let Some(event) = event else {
            return Err(CliError::other("the watch ended"));
        };
        match event? {
            WatchEvent::Info(info) => {
                if json {
                    term::json_line(&info_json(&info))?;
                } else {
                    term::outln(&watch_line(&info))?;
                }
            }
            WatchEvent::InitialDone => {}
        }
    }
}

/// `[2025-02-07 13:03:56] PUT B > name: 1.2 MiB bytes in 10 chunks` or `… DEL B > name`.
fn watch_line(info: &ObjectInfo) -> String {
    let when = Civil::of(info.mtime).datetime();
    if info.deleted {
        format!("[{when}] DEL {} > {}", info.bucket, info.name)
    } else {
        format!(
            "[{when}] PUT {} > {}: {} bytes in {} chunks",
            info.bucket,
            info.name,
            units::size(info.size),
            units::thousands(info.chunks)
        )
    }
}

fn show_status(status: &Status, json: bool) -> Result<()> {
    if json {
        term::json(&status_json(status))
    } else {
        term::out(bucket_info(status).as_bytes())
    }
}

/// The information block `nats object info <bucket>` prints.
fn bucket_info(status: &Status) -> String {
    let info = status.stream_info();
    let mut c = Columns::new(format!(
        "Information for Object Store Bucket {} created {}",
        status.bucket(),
        Civil::of(info.created).rfc3339()
    ));
    c.label_width(21).section("Configuration");
    c.field("Bucket Name", status.bucket());
    c.field_if_some("Description", status.description());
    c.field("Replicas", status.replicas());
    c.field("TTL", units::limit_duration(status.ttl()));
    c.field("Sealed", status.sealed());
    c.field("Size", units::size(status.size()));
    c.field("Maximum Bucket Size", units::limit_size(status.max_bytes()));
    c.field("Storage", capitalized(status.storage().as_str()));
    c.field("Compressed", status.is_compressed());
    c.field("Backing Store Kind", status.backing_store());
    c.field("JetStream Stream", &info.config.name);
    let config = status.config();
    let mut pairs: Vec<(&String, &String)> = config.metadata.iter().collect();
    pairs.sort();
    for (i, (k, v)) in pairs.iter().enumerate() {
        c.field(if i == 0 { "Metadata" } else { "" }, format!("{k}: {v}"));
    }
    if let Some(cluster) = &info.cluster {
        c.section("Cluster Information");
        c.field("Name", cluster.name.as_deref().unwrap_or(""));
        c.field("Leader", cluster.leader.as_deref().unwrap_or(""));
        for peer in &cluster.replicas {
            let state = if peer.offline {
                "offline"
            } else if peer.current {
                "current"
            } else {
                "outdated"
            };
            c.field("Replica", format!("{}, {state}", peer.name));
        }
    }
    c.render()
}

/// The digest as `nats object info` shows it: the algorithm and the bytes in hex.
fn digest_hex(digest: Option<&str>) -> String {
    let Some(d) = digest.filter(|d| !d.is_empty()) else {
        return String::new();
    };
    let Some((algo, value)) = d.split_once('=') else {
        return d.to_string();
    };
    match base64_decode(value) {
        Some(bytes) => {
            let mut hex = String::with_capacity(bytes.len() * 2);
            for b in bytes {
                let _ = write!(hex, "{b:02x}");
            }
            format!("{algo} {hex}")
        }
        None => d.to_string(),
    }
}

/// The information block `nats object info <bucket> <name>` prints.
fn object_info(info: &ObjectInfo) -> String {
    let mut c = Columns::new(format!(
        "Object information for {} > {}",
        info.bucket, info.name
    ));
    c.label_width(17);
    c.field_if_some("Description", info.description.as_deref());
    c.field("Size", units::size(info.size));
    c.field("Modification Time", Civil::of(info.mtime).rfc3339());
    c.field("Chunks", units::thousands(info.chunks));
    c.field("Digest", digest_hex(info.digest.as_deref()));
    if info.deleted {
        c.field("Deleted", true);
    }
    if let Some(link) = info.link() {
        match link.name.as_deref() {
            Some(n) if !n.is_empty() => c.field("Link", format!("{} > {n}", link.bucket)),
            _ => c.field("Link", format!("bucket {}", link.bucket)),
        };
    }
    let mut first = true;
    for (k, values) in &info.headers {
        for v in values {
            c.field(if first { "Headers" } else { "" }, format!("{k}: {v}"));
            first = false;
        }
    }
    c.render()
}

/// An object's info as JSON: the stored fields plus `mtime`.
fn info_json(info: &ObjectInfo) -> Value {
    let mut v = serde_json::to_value(info).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut v {
        map.insert("mtime".into(), json!(Civil::of(info.mtime).rfc3339()));
    }
    v
}

fn status_json(status: &Status) -> Value {
    json!({
        "bucket": status.bucket(),
        "description": status.description(),
        "ttl": status.ttl().as_nanos() as u64,
        "storage": status.storage().as_str(),
        "replicas": status.replicas(),
        "sealed": status.sealed(),
        "size": status.size(),
        "max_bytes": status.max_bytes(),
        "compressed": status.is_compressed(),
        "backing_store": status.backing_store(),
        "stream_info": serde_json::to_value(status.stream_info()).unwrap_or(Value::Null),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_show_in_hex() {
        assert_eq!(
            digest_hex(Some("SHA-256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU=")),
            "SHA-256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(digest_hex(None), "");
    }

    #[test]
    fn metadata_pairs() {
        assert_eq!(parse_pair("a=b=c").unwrap(), ("a".into(), "b=c".into()));
        assert!(parse_pair("=x").is_err() && parse_pair("x").is_err());
    }
}
