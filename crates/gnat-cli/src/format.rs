//! Output formatting and unit parsing: sizes (`1.2 KiB`), durations (`1h0m0s`), UTC times,
//! box-drawn tables, the bucket information block, the history table, and the JSON forms of
//! entries and bucket statuses.
//!
//! Everything here is pure (strings in, strings out) so that the shapes are unit-tested.

use std::fmt::Write as _;
use std::time::Duration;

use kv::jetstream::Timestamp;
use kv::jetstream::time::civil_from_days;
use kv::{Entry, Status};
use serde_json::{Value, json};

/// A byte count the way `nats` shows it: `0 B`, `512 B`, `1.2 KiB`, `12 KiB`, `3.0 MiB`
/// (powers of 1024, one decimal below 10).
pub(crate) fn size(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    // Round first, so that 9.96 KiB shows as "10 KiB", not "10.0 KiB".
    let rounded = (value * 10.0).round() / 10.0;
    if rounded < 10.0 {
        format!("{rounded:.1} {}", UNITS[unit])
    } else {
        format!("{value:.0} {}", UNITS[unit])
    }
}

/// A size limit: `unlimited` when zero or negative, else [`size`].
pub(crate) fn limit_size(bytes: i64) -> String {
    match u64::try_from(bytes) {
        Ok(b) if b > 0 => size(b),
        _ => "unlimited".to_string(),
    }
}

/// A duration as Go prints it (`1h0m0s`, `1m30s`, `1.5s`, `250ms`, `0s`).
pub(crate) fn duration(d: Duration) -> String {
    kv::jetstream::time::go_duration(d)
}

/// A duration limit: `unlimited` when zero, else [`duration`].
pub(crate) fn limit_duration(d: Duration) -> String {
    if d.is_zero() {
        "unlimited".to_string()
    } else {
        duration(d)
    }
}

/// A duration rounded to milliseconds (for elapsed times and latencies).
pub(crate) fn short_duration(d: Duration) -> String {
    if d < Duration::from_millis(1) {
        return duration(Duration::from_micros(d.as_micros() as u64));
    }
    duration(Duration::from_millis(d.as_millis() as u64))
}

/// A latency with three significant digits or so: `850µs`, `1.23ms`, `2.50s`.
pub(crate) fn latency(d: Duration) -> String {
    let micros = d.as_secs_f64() * 1e6;
    if micros < 1000.0 {
        format!("{micros:.0}µs")
    } else if micros < 1e6 {
        format!("{:.2}ms", micros / 1e3)
    } else {
        format!("{:.2}s", micros / 1e6)
    }
}

/// Parses a duration: Go's syntax (`1h30m`, `1.5s`, `250ms`, `2h45m10s`), plus `d` (days)
/// and `w` (weeks); a bare number is seconds.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let s = text.trim();
    if s.is_empty() {
        return Err("empty duration".to_string());
    }
    if let Ok(secs) = s.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    let bad = || format!("invalid duration {text:?} (examples: 30s, 1h30m, 250ms, 7d)");
    let mut total = 0f64;
    let mut rest = s;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        if number_len == 0 {
            return Err(bad());
        }
        let number: f64 = rest[..number_len].parse().map_err(|_| bad())?;
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let seconds_per_unit = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "d" => 86_400.0,
            "w" => 604_800.0,
            _ => return Err(bad()),
        };
        rest = &rest[unit_len..];
        total += number * seconds_per_unit;
    }
    Duration::try_from_secs_f64(total).map_err(|_| bad())
}

/// Parses a byte size: a number with an optional unit `B`, `K`/`KB`/`KiB`, `M`/`MB`/`MiB`,
/// `G`/`GB`/`GiB`, `T`/`TB`/`TiB` (all powers of 1024, as in nats-server configuration),
/// case-insensitive. `-1` and `unlimited` mean no limit (0).
pub(crate) fn parse_size(text: &str) -> Result<u64, String> {
    let s = text.trim();
    let bad = || format!("invalid size {text:?} (examples: 1024, 512KiB, 10MB, 1G)");
    if s == "-1" || s.eq_ignore_ascii_case("unlimited") {
        return Ok(0);
    }
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    if split == 0 {
        return Err(bad());
    }
    let number: f64 = s[..split].parse().map_err(|_| bad())?;
    let multiplier: u64 = match s[split..].trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        "t" | "tb" | "tib" => 1 << 40,
        _ => return Err(bad()),
    };
    let bytes = (number * multiplier as f64).round();
    if !bytes.is_finite() || bytes >= u64::MAX as f64 {
        return Err(bad());
    }
    Ok(bytes as u64)
}

/// A UTC calendar time, to the second.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Civil {
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
}

impl Civil {
    /// The UTC calendar time of `ts` (sub-second part dropped).
    pub(crate) fn of(ts: Timestamp) -> Civil {
        let secs = ts.unix_nanos().div_euclid(1_000_000_000);
        let days = i64::try_from(secs.div_euclid(86_400)).unwrap_or(0);
        let of_day = u32::try_from(secs.rem_euclid(86_400)).unwrap_or(0);
        let (year, month, day) = civil_from_days(days);
        Civil {
            year,
            month,
            day,
            hour: of_day / 3600,
            minute: of_day % 3600 / 60,
            second: of_day % 60,
        }
    }

    /// `2025-02-07 13:03:56` (the history table's Created column).
    pub(crate) fn datetime(&self) -> String {
        format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }

    /// `2025-02-07T13:03:56Z`.
    pub(crate) fn rfc3339(&self) -> String {
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }

    /// `07 Feb 25 13:03 UTC` (Go's RFC 822 layout, as `nats kv get` shows it).
    pub(crate) fn rfc822(&self) -> String {
        const MONTHS: [&str; 12] = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        let month = MONTHS
            .get(self.month.saturating_sub(1) as usize)
            .unwrap_or(&"???");
        format!(
            "{:02} {month} {:02} {:02}:{:02} UTC",
            self.day,
            self.year.rem_euclid(100),
            self.hour,
            self.minute
        )
    }
}

/// Column alignment in a [`Table`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Align {
    /// Padded on the right.
    Left,
    /// Padded on the left (numbers).
    Right,
}

/// A table drawn with rounded box characters, with an optional centred title:
///
/// ```text
/// ╭────────────────╮
/// │     Title      │
/// ├─────┬──────────┤
/// │ Key │ Revision │
/// ├─────┼──────────┤
/// │ a   │        1 │
/// ╰─────┴──────────╯
/// ```
#[derive(Debug, Clone)]
pub(crate) struct Table {
    title: Option<String>,
    headers: Vec<String>,
    align: Vec<Align>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column headers, all left-aligned.
    pub(crate) fn new(headers: &[&str]) -> Table {
        Table {
            title: None,
            headers: headers.iter().map(|h| h.to_string()).collect(),
            align: vec![Align::Left; headers.len()],
            rows: Vec::new(),
        }
    }

    /// Sets the title.
    pub(crate) fn title(mut self, title: impl Into<String>) -> Table {
        self.title = Some(title.into());
        self
    }

    /// Sets the alignment of column `column`.
    pub(crate) fn align(mut self, column: usize, align: Align) -> Table {
        if let Some(a) = self.align.get_mut(column) {
            *a = align;
        }
        self
    }

    /// Adds a row (missing cells are empty, extra ones are ignored).
    pub(crate) fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// Draws the table; every line ends with a newline.
    pub(crate) fn render(&self) -> String {
        let n = self.headers.len();
        let cell = |row: &[String], i: usize| row.get(i).cloned().unwrap_or_default();
        let mut widths: Vec<usize> = self.headers.iter().map(|h| width(h)).collect();
        for row in &self.rows {
            for (i, w) in widths.iter_mut().enumerate() {
                *w = (*w).max(width(&cell(row, i)));
            }
        }
        let inner = |widths: &[usize]| widths.iter().map(|w| w + 2).sum::<usize>() + n - 1;
        if let (Some(title), Some(last)) = (&self.title, n.checked_sub(1)) {
            let need = width(title) + 2;
            let have = inner(&widths);
            if need > have {
                widths[last] += need - have;
            }
        }
        let rule = |left: char, mid: char, right: char| {
            let mut s = String::new();
            s.push(left);
            for (i, w) in widths.iter().enumerate() {
                if i > 0 {
                    s.push(mid);
                }
                s.extend(std::iter::repeat_n('─', w + 2));
            }
            s.push(right);
            s.push('\n');
            s
        };
        let line = |cells: &[String]| {
            let mut s = String::from("│");
            for (i, w) in widths.iter().enumerate() {
                let text = cell(cells, i);
                let pad = w - width(&text);
                match self.align.get(i) {
                    Some(Align::Right) => {
                        let _ = write!(s, " {}{text} │", " ".repeat(pad));
                    }
                    _ => {
                        let _ = write!(s, " {text}{} │", " ".repeat(pad));
                    }
                }
            }
            s.push('\n');
            s
        };
        let mut out = String::new();
        match &self.title {
            Some(title) => {
                let total = inner(&widths);
                out.push('╭');
                out.extend(std::iter::repeat_n('─', total));
                out.push_str("╮\n");
                let spare = total - width(title);
                let left = spare.div_ceil(2);
                let _ = writeln!(
                    out,
                    "│{}{title}{}│",
                    " ".repeat(left),
                    " ".repeat(spare - left)
                );
                out.push_str(&rule('├', '┬', '┤'));
            }
            None => out.push_str(&rule('╭', '┬', '╮')),
        }
        out.push_str(&line(&self.headers));
        if !self.rows.is_empty() {
            out.push_str(&rule('├', '┼', '┤'));
        }
        for row in &self.rows {
            out.push_str(&line(row));
        }
        out.push_str(&rule('╰', '┴', '╯'));
        out
    }
}

/// Display width of a cell (characters; cells are escaped, so no control characters).
fn width(s: &str) -> usize {
    s.chars().count()
}

/// A value for a table cell or a watch line: UTF-8 (lossy), control characters escaped,
/// at most `max` characters (then `...`).
pub(crate) fn value_cell(value: &[u8], max: usize) -> String {
    let text = String::from_utf8_lossy(value);
    let mut out = String::new();
    for (n, c) in text.chars().enumerate() {
        if n >= max {
            out.push_str("...");
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// The information block `nats kv add`/`nats kv info` prints.
pub(crate) fn bucket_info(status: &Status) -> String {
    let info = status.stream_info();
    let config = status.config();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Information for Key-Value Store Bucket {} created {}",
        status.bucket(),
        Civil::of(info.created).rfc3339()
    );
    out.push_str("\nConfiguration:\n\n");
    let mut field = |label: &str, value: &str| {
        let _ = writeln!(out, "{label:>21}: {value}");
    };
    field("Bucket Name", status.bucket());
    if let Some(d) = status.description().filter(|d| !d.is_empty()) {
        field("Description", d);
    }
    field("History Kept", &status.history().to_string());
    field("Values Stored", &status.values().to_string());
    field("Compressed", &status.is_compressed().to_string());
    field("Backing Store Kind", status.backing_store());
    field("Bucket Size", &size(status.bytes()));
    field("Maximum Bucket Size", &limit_size(config.max_bytes));
    field(
        "Maximum Value Size",
        &limit_size(i64::from(config.max_value_size)),
    );
    field("Maximum Age", &limit_duration(status.ttl()));
    if !status.limit_marker_ttl().is_zero() {
        field("Limit Marker TTL", &duration(status.limit_marker_ttl()));
    }
    field("JetStream Stream", &info.config.name);
    field("Storage", &capitalized(config.storage.as_str()));
    if let Some(cluster) = &info.cluster {
        out.push_str("\nCluster Information:\n\n");
        let _ = writeln!(
            out,
            "{:>21}: {}",
            "Name",
            cluster.name.as_deref().unwrap_or("")
        );
        let _ = writeln!(
            out,
            "{:>21}: {}",
            "Leader",
            cluster.leader.as_deref().unwrap_or("")
        );
        for peer in &cluster.replicas {
            let state = if peer.offline {
                "offline"
            } else if peer.current {
                "current"
            } else {
                "outdated"
            };
            let _ = writeln!(
                out,
                "{:>21}: {}, {state}, seen {} ago",
                "Replica",
                peer.name,
                short_duration(peer.active)
            );
        }
    }
    out
}

fn capitalized(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
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

/// Standard base64 with padding (for values that are not UTF-8 in JSON output).
pub(crate) fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A payload in JSON: `{"<name>": "text"}` when it is UTF-8, else
/// `{"<name>": null, "<name>_base64": "…"}`.
pub(crate) fn put_payload(object: &mut serde_json::Map<String, Value>, name: &str, data: &[u8]) {
    match std::str::from_utf8(data) {
        Ok(text) => {
            object.insert(name.to_string(), Value::from(text));
        }
        Err(_) => {
            object.insert(name.to_string(), Value::Null);
            object.insert(format!("{name}_base64"), Value::from(base64(data)));
        }
    }
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

/// An integer with thousands separators (`1,234,567`).
pub(crate) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_like_nats() {
        assert_eq!(size(0), "0 B");
        assert_eq!(size(1023), "1023 B");
        assert_eq!(size(1024), "1.0 KiB");
        assert_eq!(size(1234), "1.2 KiB");
        assert_eq!(size(10 * 1024 - 20), "10 KiB");
        assert_eq!(size(12_345), "12 KiB");
        assert_eq!(size(3 << 20), "3.0 MiB");
        assert_eq!(size(5 << 30), "5.0 GiB");
        assert_eq!(limit_size(0), "unlimited");
        assert_eq!(limit_size(-1), "unlimited");
        assert_eq!(limit_size(1 << 20), "1.0 MiB");
    }

    #[test]
    fn durations_like_go() {
        assert_eq!(limit_duration(Duration::ZERO), "unlimited");
        assert_eq!(limit_duration(Duration::from_secs(3600)), "1h0m0s");
        assert_eq!(duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(duration(Duration::from_millis(250)), "250ms");
        assert_eq!(
            short_duration(Duration::from_nanos(1_234_567_891)),
            "1.234s"
        );
        assert_eq!(short_duration(Duration::from_nanos(123_456)), "123µs");
        assert_eq!(latency(Duration::from_nanos(850_400)), "850µs");
        assert_eq!(latency(Duration::from_micros(1234)), "1.23ms");
        assert_eq!(latency(Duration::from_millis(2500)), "2.50s");
    }

    #[test]
    fn parses_durations() {
        let p = |s| parse_duration(s).unwrap();
        assert_eq!(p("30"), Duration::from_secs(30));
        assert_eq!(p("30s"), Duration::from_secs(30));
        assert_eq!(p("1h30m"), Duration::from_secs(5400));
        assert_eq!(p("1.5s"), Duration::from_millis(1500));
        assert_eq!(p("250ms"), Duration::from_millis(250));
        assert_eq!(p("2h45m10s"), Duration::from_secs(9910));
        assert_eq!(p("1d"), Duration::from_secs(86_400));
        assert_eq!(p("1w"), Duration::from_secs(604_800));
        assert_eq!(p("10us"), Duration::from_micros(10));
        for bad in ["", "s", "1x", "h1", "1.2.3s", "-1s", "1 h"] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn parses_sizes() {
        let p = |s| parse_size(s).unwrap();
        assert_eq!(p("1024"), 1024);
        assert_eq!(p("1K"), 1024);
        assert_eq!(p("512KiB"), 512 * 1024);
        assert_eq!(p("10MB"), 10 << 20);
        assert_eq!(p("1g"), 1 << 30);
        assert_eq!(p("1.5 KiB"), 1536);
        assert_eq!(p("-1"), 0);
        assert_eq!(p("unlimited"), 0);
        for bad in ["", "KB", "1XB", "ten"] {
            assert!(parse_size(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn utc_calendar() {
        let ts = Timestamp::parse("2025-01-19T03:54:59.123Z").unwrap();
        let c = Civil::of(ts);
        assert_eq!(c.datetime(), "2025-01-19 03:54:59");
        assert_eq!(c.rfc3339(), "2025-01-19T03:54:59Z");
        assert_eq!(c.rfc822(), "19 Jan 25 03:54 UTC");
        let leap = Civil::of(Timestamp::parse("2024-02-29T23:59:59Z").unwrap());
        assert_eq!(leap.datetime(), "2024-02-29 23:59:59");
        assert_eq!(
            Civil::of(Timestamp::UNIX_EPOCH).rfc3339(),
            "1970-01-01T00:00:00Z"
        );
        let before = Civil::of(Timestamp::from_unix_nanos(-1));
        assert_eq!(before.datetime(), "1969-12-31 23:59:59");
        let dec = Civil::of(Timestamp::parse("1999-12-31T12:00:00Z").unwrap());
        assert_eq!(dec.rfc822(), "31 Dec 99 12:00 UTC");
    }

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
    fn tables_grow_for_long_titles_and_have_no_title_form() {
        let mut t = Table::new(&["A", "B"]).title("a rather long title");
        t.row(vec!["1".into()]);
        let s = t.render();
        let lines: Vec<&str> = s.lines().collect();
        assert_eq!(lines[1], "│ a rather long title │");
        assert!(lines.iter().all(|l| l.chars().count() == 23), "{s}");
        let mut t = Table::new(&["Bucket", "Values"]).align(1, Align::Right);
        t.row(vec!["b".into(), "7".into()]);
        assert_eq!(
            t.render(),
            "╭────────┬────────╮\n│ Bucket │ Values │\n├────────┼────────┤\n│ b      │      7 │\n╰────────┴────────╯\n"
        );
        let empty = Table::new(&["X"]).render();
        assert_eq!(empty, "╭───╮\n│ X │\n╰───╯\n");
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

    #[test]
    fn base64_and_payloads() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64(&[0xff, 0xfe]), "//4=");
        let mut o = serde_json::Map::new();
        put_payload(&mut o, "payload", &[0xff]);
        assert_eq!(
            Value::Object(o),
            json!({"payload": null, "payload_base64": "/w=="})
        );
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}
