//! What `gnat kv` prints: the bucket information block, the history table, `get`'s header
//! line, watch lines, and the JSON forms of entries and bucket statuses.

use std::fmt::Write as _;

use kv::{Entry, Status};
use serde_json::{Value, json};

use crate::clock::Civil;
use crate::json::put_payload;
use crate::table::{Align, Columns, Table, capitalized, value_cell};
use crate::units::{duration, limit_duration, limit_size, short_duration, size};

/// The information block `nats kv add`/`nats kv info` prints.
pub(crate) fn bucket_info(status: &Status) -> String {
    let info = status.stream_info();
    let config = status.config();
    let mut c = Columns::new(format!(
        "Information for Key-Value Store Bucket {} created {}",
        status.bucket(),
        Civil::of(info.created).rfc3339()
    ));
    c.label_width(21).section("Configuration");
    c.field("Bucket Name", status.bucket());
    c.field_if_some("Description", status.description());
    c.field("History Kept", status.history());
    c.field("Values Stored", status.values());
    c.field("Compressed", status.is_compressed());
    c.field("Backing Store Kind", status.backing_store());
    c.field("Bucket Size", size(status.bytes()));
    c.field("Maximum Bucket Size", limit_size(config.max_bytes));
    c.field(
        "Maximum Value Size",
        limit_size(i64::from(config.max_value_size)),
    );
    c.field("Maximum Age", limit_duration(status.ttl()));
    if !status.limit_marker_ttl().is_zero() {
        c.field("Limit Marker TTL", duration(status.limit_marker_ttl()));
    }
    c.field("JetStream Stream", &info.config.name);
    c.field("Storage", capitalized(config.storage.as_str()));
    if let Some(p) = &config.placement {
        c.field_if_some("Placement Cluster", p.cluster.as_deref());
        if let Some(t) = p.tags.as_ref().filter(|t| !t.is_empty()) {
            c.field("Placement Tags", t.join(", "));
        }
    }
    if let Some(r) = &config.republish {
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
    let meta: std::collections::BTreeMap<&String, &String> = config
        .metadata
        .iter()
        .filter(|(k, _)| !k.starts_with("_nats."))
        .collect();
    for (k, v) in meta {
        c.field(&format!("Metadata {k}"), v);
    }
    let bucket_of = |name: &str| name.strip_prefix("KV_").unwrap_or(name).to_string();
    if let Some(m) = &info.config.mirror {
        c.field("Mirror Of", bucket_of(&m.name));
        if let Some(e) = &m.external {
            c.field("Mirror External API", &e.api);
        }
    }
    for s in info.config.sources.iter().flatten() {
        c.field("Source", bucket_of(&s.name));
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
            c.field(
                "Replica",
                format!(
                    "{}, {state}, seen {} ago",
                    peer.name,
                    short_duration(peer.active)
                ),
            );
        }
    }
    c.render()
}

/// The history table (`History for <bucket> > <key>`).
pub(crate) fn history_table(bucket: &str, key: &str, entries: &[Entry]) -> String {
    let mut table = Table::new(&["Key", "Revision", "Op", "Created", "Length", "Value"])
        .title(format!("History for {bucket} > {key}"))
        .align(1, Align::Right);
    for e in entries {
        table.row(vec![
            e.key.to_string(),
            e.revision.to_string(),
            e.operation.to_string(),
            Civil::of(e.created).datetime(),
            e.value.len().to_string(),
            value_cell(&e.value, 40),
        ]);
    }
    table.render()
}

/// The header line of `gnat kv get`: `B > k revision: 1 created @ 19 Jan 25 03:54 UTC`.
pub(crate) fn get_header(entry: &Entry) -> String {
    format!(
        "{} > {} revision: {} created @ {}",
        entry.bucket,
        entry.key,
        entry.revision,
        Civil::of(entry.created).rfc822()
    )
}

/// One line of `gnat kv watch`: `[2025-02-07 13:03:56] PUT B > k: value`.
pub(crate) fn watch_line(entry: &Entry) -> String {
    let mut line = format!(
        "[{}] {} {} > {}",
        Civil::of(entry.created).datetime(),
        entry.operation,
        entry.bucket,
        entry.key
    );
    if !entry.operation.is_tombstone() {
        let _ = write!(line, ": {}", value_cell(&entry.value, usize::MAX));
    }
    line
}

/// An entry as JSON.
pub(crate) fn entry_json(entry: &Entry) -> Value {
    let mut object = serde_json::Map::new();
    object.insert("bucket".into(), Value::from(&*entry.bucket));
    object.insert("key".into(), Value::from(entry.key.as_str()));
    object.insert("revision".into(), Value::from(entry.revision));
    object.insert("created".into(), Value::from(entry.created.to_rfc3339()));
    object.insert("delta".into(), Value::from(entry.delta));
    object.insert("operation".into(), Value::from(entry.operation.to_string()));
    object.insert("length".into(), Value::from(entry.value.len()));
    put_payload(&mut object, "value", &entry.value);
    Value::Object(object)
}

/// A bucket's status as JSON: the figures of the information block, and the backing stream's
/// full information under `stream_info`.
pub(crate) fn status_json(status: &Status) -> Value {
    let info = status.stream_info();
    let config = status.config();
    json!({
        "bucket": status.bucket(),
        "description": status.description(),
        "created": info.created.to_rfc3339(),
        "history": status.history(),
        "values": status.values(),
        "bytes": status.bytes(),
        "compressed": status.is_compressed(),
        "backing_store": status.backing_store(),
        "max_bucket_size": config.max_bytes,
        "max_value_size": config.max_value_size,
        "ttl_ns": u64::try_from(status.ttl().as_nanos()).unwrap_or(u64::MAX),
        "limit_marker_ttl_ns":
            u64::try_from(status.limit_marker_ttl().as_nanos()).unwrap_or(u64::MAX),
        "stream": info.config.name,
        "storage": config.storage.as_str(),
        "replicas": config.replicas,
        "cluster": info.cluster.as_ref().map(|c| json!({
            "name": c.name,
            "leader": c.leader,
            "replicas": c.replicas.iter().map(|p| json!({
                "name": p.name, "current": p.current, "offline": p.offline,
            })).collect::<Vec<_>>(),
        })),
        "stream_info": serde_json::to_value(info).unwrap_or(Value::Null),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use kv::jetstream::Timestamp;

    fn entry(revision: u64, value: &'static str, op: kv::Operation) -> Entry {
        Entry::new(
            "Bucket1".into(),
            "Key1".into(),
            kv::Bytes::from_static(value.as_bytes()),
            revision,
            Timestamp::parse("2025-02-07T13:03:56Z").unwrap(),
            0,
            op,
        )
    }

    #[test]
    fn history_table_like_the_seed() {
        let t = history_table("Bucket1", "Key1", &[entry(1, "", kv::Operation::Put)]);
        let want = "\
╭──────────────────────────────────────────────────────────────╮
│                  History for Bucket1 > Key1                  │
├──────┬──────────┬─────┬─────────────────────┬────────┬───────┤
│ Key  │ Revision │ Op  │ Created             │ Length │ Value │
├──────┼──────────┼─────┼─────────────────────┼────────┼───────┤
│ Key1 │        1 │ PUT │ 2025-02-07 13:03:56 │ 0      │       │
╰──────┴──────────┴─────┴─────────────────────┴────────┴───────╯
";
        assert_eq!(t, want);
        // An odd spare width puts the extra space on the left, as the seed does.
        let t = history_table(
            "Bucket1",
            "Key1",
            &[
                entry(3, "Value3", kv::Operation::Put),
                entry(12, "", kv::Operation::Delete),
            ],
        );
        let want = "\
╭───────────────────────────────────────────────────────────────╮
│                   History for Bucket1 > Key1                  │
├──────┬──────────┬─────┬─────────────────────┬────────┬────────┤
│ Key  │ Revision │ Op  │ Created             │ Length │ Value  │
├──────┼──────────┼─────┼─────────────────────┼────────┼────────┤
│ Key1 │        3 │ PUT │ 2025-02-07 13:03:56 │ 6      │ Value3 │
│ Key1 │       12 │ DEL │ 2025-02-07 13:03:56 │ 0      │        │
╰──────┴──────────┴─────┴─────────────────────┴────────┴────────╯
";
        assert_eq!(t, want);
    }

    #[test]
    fn cells_and_lines() {
        assert_eq!(value_cell(b"a\nb\tc", 40), "a\\nb\\tc");
        assert_eq!(value_cell(b"abcdef", 3), "abc...");
        assert_eq!(value_cell(&[0xff, b'a'], 40), "\u{fffd}a");
        let e = entry(1, "Value1", kv::Operation::Put);
        assert_eq!(
            get_header(&e),
            "Bucket1 > Key1 revision: 1 created @ 07 Feb 25 13:03 UTC"
        );
        assert_eq!(
            watch_line(&e),
            "[2025-02-07 13:03:56] PUT Bucket1 > Key1: Value1"
        );
        let d = entry(2, "", kv::Operation::Delete);
        assert_eq!(watch_line(&d), "[2025-02-07 13:03:56] DEL Bucket1 > Key1");
        let j = entry_json(&e);
        assert_eq!(j["value"], "Value1");
        assert_eq!(j["revision"], 1);
        assert_eq!(j["operation"], "PUT");
    }
}
