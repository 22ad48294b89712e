//! Units: byte sizes (`1.2 KiB`) and durations (`1h0m0s`) shown the way `nats` shows them,
//! and parsed from flags; counts with thousands separators; latencies.

use std::time::Duration;

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
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}
