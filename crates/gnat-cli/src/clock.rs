//! Times as the commands show them, in UTC: `2025-02-07 13:03:56` (tables), RFC 3339, and
//! Go's RFC 822 layout (`07 Feb 25 13:03 UTC`, as `nats kv get` shows it). The calendar
//! fields come from the RFC 3339 text JetStream's [`Timestamp`] prints, so there is no second
//! calendar implementation here.

use kv::jetstream::Timestamp;

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
    /// The UTC calendar time of `ts` (sub-second part dropped), read from its RFC 3339 form
    /// (`2025-02-07T13:03:56.123Z`, which JetStream's `Timestamp` prints in UTC for the years
    /// 0000–9999) rather than from a second calendar implementation.
    pub(crate) fn of(ts: Timestamp) -> Civil {
        let text = ts.to_rfc3339();
        let b = text.as_bytes();
        let num = |from: usize, to: usize| -> u32 {
            b.get(from..to)
                .filter(|d| d.iter().all(u8::is_ascii_digit))
                .map_or(0, |d| {
                    d.iter().fold(0u32, |n, c| n * 10 + u32::from(c - b'0'))
                })
        };
        Civil {
            year: i64::from(num(0, 4)),
            month: num(5, 7),
            day: num(8, 10),
            hour: num(11, 13),
            minute: num(14, 16),
            second: num(17, 19),
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
