//! Time on the JetStream wire: RFC 3339 timestamps (UTC, nanoseconds) and durations as integer
//! nanoseconds, without a date-time crate.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A point in time with nanosecond precision, as JetStream reports it (`2024-05-01T12:00:00.123456789Z`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp {
    /// Nanoseconds since the Unix epoch (negative before 1970).
    nanos: i128,
}

const NANOS_PER_SEC: i128 = 1_000_000_000;
/// Day numbers (from 1970-01-01) of 0000-01-01 and 9999-12-31.
const MIN_DAYS: i64 = -719_528;
const MAX_DAYS: i64 = 2_932_896;

/// Days from 1970-01-01 to the civil date (proleptic Gregorian).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date `(year, month 1–12, day 1–31)`, proleptic Gregorian, of a day count from
/// 1970-01-01 (negative before it). Meant for the RFC 3339 years 0000–9999; a count within a
/// million days of `i64::MAX` overflows.
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn digits(s: &[u8]) -> Option<i64> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    s.iter().try_fold(0i64, |n, &b| {
        n.checked_mul(10)?.checked_add(i64::from(b - b'0'))
    })
}

impl Timestamp {
    /// The Unix epoch.
    pub const UNIX_EPOCH: Timestamp = Timestamp { nanos: 0 };

    /// From nanoseconds since the Unix epoch.
    pub const fn from_unix_nanos(nanos: i128) -> Self {
        Timestamp { nanos }
    }

    /// Nanoseconds since the Unix epoch.
    pub const fn unix_nanos(&self) -> i128 {
        self.nanos
    }

    /// The current time.
    pub fn now() -> Self {
        Self::from(SystemTime::now())
    }

    /// As a [`SystemTime`].
    pub fn to_system_time(&self) -> SystemTime {
        // Out-of-range values saturate (about 584 years either side of the epoch).
        let span =
            Duration::from_nanos(u64::try_from(self.nanos.unsigned_abs()).unwrap_or(u64::MAX));
        let t = if self.nanos >= 0 {
            UNIX_EPOCH.checked_add(span)
        } else {
            UNIX_EPOCH.checked_sub(span)
        };
        t.unwrap_or(UNIX_EPOCH)
    }

    /// Time elapsed since this timestamp (zero if it is in the future).
    pub fn elapsed(&self) -> Duration {
        let now = Self::now().nanos;
        let nanos = now.checked_sub(self.nanos).unwrap_or(0);
        Duration::from_nanos(u64::try_from(nanos).unwrap_or(if nanos > 0 { u64::MAX } else { 0 }))
    }

    /// Parses RFC 3339 (`2024-05-01T12:00:00.5Z`, `…+02:00`) and Go's default time format
    /// (`2022-08-06 00:29:27.587861324 +0000 UTC`), which older servers used in headers.
    pub fn parse(s: &str) -> Option<Self> {
        let b = s.trim().as_bytes();
        if b.len() < 19 {
            return None;
        }
        let field = |r: std::ops::Range<usize>| b.get(r).and_then(digits);
        let (year, month, day) = (field(0..4)?, field(5..7)?, field(8..10)?);
        let (hour, min, sec) = (field(11..13)?, field(14..16)?, field(17..19)?);
        if b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
            return None;
        }
        if b[13] != b':' || b[16] != b':' || !(1..=12).contains(&month) || !(1..=31).contains(&day)
        {
            return None;
        }
        if hour > 23 || min > 59 || sec > 60 {
            return None;
        }
        let mut i = 19;
        let mut frac: i128 = 0;
        if b.get(i) == Some(&b'.') {
            i += 1;
            let start = i;
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            let f = &b[start..i];
            if f.is_empty() {
                return None;
            }
            for (k, &d) in f.iter().take(9).enumerate() {
                frac += i128::from(d - b'0') * 10i128.pow(8 - k as u32);
            }
        }
        let rest = std::str::from_utf8(&b[i..]).ok()?.trim();
        let offset_secs: i64 = match rest.as_bytes() {
            [b'Z' | b'z'] => 0,
            [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2, ..]
            | [b' ', sign @ (b'+' | b'-'), h1, h2, m1, m2, ..]
            | [sign @ (b'+' | b'-'), h1, h2, m1, m2, ..] => {
                let h = digits(&[*h1, *h2])?;
                let m = digits(&[*m1, *m2])?;
                let v = h * 3600 + m * 60;
                if *sign == b'-' { -v } else { v }
            }
            _ => return None,
        };
        let days = days_from_civil(year, month as u32, day as u32);
        let secs = days * 86_400 + hour * 3600 + min * 60 + sec - offset_secs;
        Some(Timestamp {
            nanos: i128::from(secs) * NANOS_PER_SEC + frac,
        })
    }

    /// RFC 3339 in UTC with as many fractional digits as needed (none for whole seconds).
    pub fn to_rfc3339(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.nanos.div_euclid(NANOS_PER_SEC);
        let frac = self.nanos.rem_euclid(NANOS_PER_SEC);
        // RFC 3339 years (0000–9999) only: a timestamp from `from_unix_nanos` may be anything,
        // and beyond that it prints as the nearest end instead of overflowing the arithmetic.
        let days = i64::try_from(secs.div_euclid(86_400))
            .unwrap_or(if secs < 0 { i64::MIN } else { i64::MAX })
            .clamp(MIN_DAYS, MAX_DAYS);
        let rem = secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        write!(
            f,
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
            rem / 3600,
            rem % 3600 / 60,
            rem % 60
        )?;
        if frac != 0 {
            let s = format!("{frac:09}");
            write!(f, ".{}", s.trim_end_matches('0'))?;
        }
        f.write_str("Z")
    }
}

impl From<SystemTime> for Timestamp {
    fn from(t: SystemTime) -> Self {
        match t.duration_since(UNIX_EPOCH) {
            Ok(d) => Timestamp {
                nanos: d.as_nanos() as i128,
            },
            Err(e) => Timestamp {
                nanos: -(e.duration().as_nanos() as i128),
            },
        }
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Timestamp::parse(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("invalid timestamp {s:?}")))
    }
}

/// Formats a duration the way Go's `time.Duration.String()` does (`1h0m0s`, `1.5s`, `250ms`),
/// the form the `Nats-TTL` header and others accept.
pub fn go_duration(d: Duration) -> String {
    let total = d.as_nanos();
    if total == 0 {
        return "0s".to_string();
    }
    if total < 1_000_000_000 {
        // Below a second Go picks the largest unit with an integer part.
        let (unit, div) = if total < 1_000 {
            ("ns", 1u128)
        } else if total < 1_000_000 {
            ("µs", 1_000)
        } else {
            ("ms", 1_000_000)
        };
        return format!("{}{unit}", trim_fraction(total, div));
    }
    let secs = total / 1_000_000_000;
    let h = secs / 3600;
    let m = secs % 3600 / 60;
    let s_nanos = total - (h * 3600 + m * 60) * 1_000_000_000;
    let s = trim_fraction(s_nanos, 1_000_000_000);
    if h > 0 {
        format!("{h}h{m}m{s}s")
    } else if m > 0 {
        format!("{m}m{s}s")
    } else {
        format!("{s}s")
    }
}

fn trim_fraction(value: u128, div: u128) -> String {
    let whole = value / div;
    let frac = value % div;
    if frac == 0 {
        return whole.to_string();
    }
    let width = div.ilog10() as usize;
    let f = format!("{frac:0width$}");
    format!("{whole}.{}", f.trim_end_matches('0'))
}

/// Serde for a [`Duration`] as integer nanoseconds (JetStream's encoding).
pub mod nanos {
    use super::*;

    /// Serializes as nanoseconds.
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
    }

    /// Deserializes nanoseconds; negative values (Go's "unset") become zero.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let n = i64::deserialize(d)?;
        Ok(Duration::from_nanos(u64::try_from(n).unwrap_or(0)))
    }
}

/// Serde for an `Option<Duration>` as integer nanoseconds (absent = `None`).
pub mod nanos_opt {
    use super::*;

    /// Serializes as nanoseconds (use with `skip_serializing_if = "Option::is_none"`).
    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_i64(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)),
            None => s.serialize_none(),
        }
    }

    /// Deserializes nanoseconds; zero or negative becomes `None`.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        let n = Option::<i64>::deserialize(d)?;
        Ok(n.and_then(|n| u64::try_from(n).ok())
            .filter(|&n| n > 0)
            .map(Duration::from_nanos))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_rfc3339() {
        let t = Timestamp::parse("2023-10-16T12:54:19.409051084Z").unwrap();
        assert_eq!(t.to_string(), "2023-10-16T12:54:19.409051084Z");
        let t2 = Timestamp::parse("2023-10-16T14:54:19.409051084+02:00").unwrap();
        assert_eq!(t, t2);
        let go = Timestamp::parse("2023-10-16 12:54:19.409051084 +0000 UTC").unwrap();
        assert_eq!(t, go);
        assert_eq!(
            Timestamp::parse("1970-01-01T00:00:00Z").unwrap(),
            Timestamp::UNIX_EPOCH
        );
        assert_eq!(
            Timestamp::parse("2000-03-01T00:00:01.5Z")
                .unwrap()
                .to_string(),
            "2000-03-01T00:00:01.5Z"
        );
        assert_eq!(
            Timestamp::parse("0001-01-01T00:00:00Z")
                .unwrap()
                .to_string(),
            "0001-01-01T00:00:00Z"
        );
        for bad in [
            "",
            "2023-13-01T00:00:00Z",
            "2023-10-16T12:54:19",
            "2023-10-16X12:54:19Z",
            "2023-10-16T12:54:19.Z",
        ] {
            assert!(Timestamp::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn extreme_values_do_not_panic() {
        assert_eq!(days_from_civil(0, 1, 1), MIN_DAYS);
        assert_eq!(days_from_civil(9999, 12, 31), MAX_DAYS);
        for nanos in [
            i128::MIN,
            i128::MIN + 1,
            -1,
            i128::from(u64::MAX) * 3,
            i128::MAX,
        ] {
            let t = Timestamp::from_unix_nanos(nanos);
            let _ = t.to_string();
            let _ = t.to_system_time();
            let _ = t.elapsed();
        }
        assert!(
            Timestamp::from_unix_nanos(i128::MAX)
                .to_string()
                .starts_with("9999-12-31T")
        );
        assert!(
            Timestamp::from_unix_nanos(i128::MIN)
                .to_string()
                .starts_with("0000-01-01T")
        );
    }

    #[test]
    fn round_trips_through_system_time() {
        let now = Timestamp::now();
        assert_eq!(Timestamp::from(now.to_system_time()), now);
        assert!(now.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn formats_go_durations() {
        assert_eq!(go_duration(Duration::from_secs(3600)), "1h0m0s");
        assert_eq!(go_duration(Duration::from_secs(60)), "1m0s");
        assert_eq!(go_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(go_duration(Duration::from_millis(250)), "250ms");
        assert_eq!(go_duration(Duration::from_micros(1500)), "1.5ms");
        assert_eq!(go_duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(go_duration(Duration::ZERO), "0s");
    }
}
