//! Message schedules (ADR-51, nats-server 2.12+; time zones and rollup 2.14+): a message on
//! its own subject that holds a schedule, from which the stream produces messages on a target
//! subject — once at a time (`@at`), on an interval (`@every`), or on a cron pattern (six
//! fields with seconds, or `@hourly` and friends, optionally in a time zone). The stream
//! needs `allow_msg_schedules` (and `allow_msg_ttl` for a [`Schedule::ttl`]).
//!
//! The last message on a schedule subject is the schedule: publishing a new one replaces it
//! (the server rolls the subject up), and removing it — [`Context::cancel_schedule`] purges
//! the subject — stops it. [`PublishOptions::stop_schedule`] stops one atomically with a
//! publish on another subject.

use std::time::Duration;

use client::HeaderMap;

use crate::context::Context;
use crate::error::{Error, ErrorKind, Result};
use crate::publish::{PubAck, PublishOptions};
use crate::stream::PurgeRequest;
use crate::time::{Timestamp, go_duration};

pub(crate) const SCHEDULE: &str = "Nats-Schedule";
const TARGET: &str = "Nats-Schedule-Target";
const SOURCE: &str = "Nats-Schedule-Source";
const SCHEDULE_TTL: &str = "Nats-Schedule-TTL";
const TIME_ZONE: &str = "Nats-Schedule-Time-Zone";
const SCHEDULE_ROLLUP: &str = "Nats-Schedule-Rollup";
pub(crate) const SCHEDULER: &str = "Nats-Scheduler";
pub(crate) const SCHEDULE_NEXT: &str = "Nats-Schedule-Next";

/// The shortest `@every` interval the server accepts (ADR-51).
pub const MIN_SCHEDULE_INTERVAL: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Pattern {
    At(Timestamp),
    Every(Duration),
    Cron(String),
}

/// A schedule: when, and to which subject, the stream produces messages from it.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use gnat_jetstream::Schedule;
/// let once = Schedule::at(SystemTime::now() + Duration::from_secs(60), "orders");
/// let poll = Schedule::every(Duration::from_secs(5), "sensors.sampled")
///     .unwrap()
///     .source("sensors.raw")
///     .ttl(Duration::from_secs(300));
/// let nightly = Schedule::cron("0 30 2 * * *", "reports.nightly")
///     .unwrap()
///     .time_zone("Europe/Amsterdam")
///     .unwrap();
/// assert_eq!(nightly.pattern(), "0 30 2 * * *");
/// assert_eq!(poll.pattern(), "@every 5s");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    pattern: Pattern,
    target: String,
    source: Option<String>,
    ttl: Option<Duration>,
    time_zone: Option<String>,
    rollup: bool,
}

impl Schedule {
    fn new(pattern: Pattern, target: impl Into<String>) -> Self {
        Schedule {
            pattern,
            target: target.into(),
            source: None,
            ttl: None,
            time_zone: None,
            rollup: false,
        }
    }

    /// Once, at `time` (`@at`, RFC 3339 in UTC); a time in the past fires at once. The
    /// schedule is removed after it fired.
    pub fn at(time: impl Into<Timestamp>, target: impl Into<String>) -> Self {
        Self::new(Pattern::At(time.into()), target)
    }

    /// Every `interval` (`@every`, at least one second) from now.
    pub fn every(interval: Duration, target: impl Into<String>) -> Result<Self> {
        if interval < MIN_SCHEDULE_INTERVAL {
            return Err(invalid(format!(
                "a schedule interval is at least 1s, not {interval:?} (ADR-51)"
            )));
        }
        Ok(Self::new(Pattern::Every(interval), target))
    }

    /// On a cron pattern: six fields (seconds, minutes, hours, day of month, month, day of
    /// week) or one of `@yearly`, `@annually`, `@monthly`, `@weekly`, `@daily`, `@midnight`,
    /// `@hourly`. The server validates the fields (10189); here only their number and
    /// characters are checked.
    pub fn cron(pattern: impl Into<String>, target: impl Into<String>) -> Result<Self> {
        let pattern = pattern.into();
        let predefined = [
            "@yearly",
            "@annually",
            "@monthly",
            "@weekly",
            "@daily",
            "@midnight",
            "@hourly",
        ];
        if !predefined.contains(&pattern.as_str()) {
            let fields = pattern.split(' ').collect::<Vec<_>>();
            let ok_chars = pattern
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b" */,-?".contains(&b));
            if fields.len() != 6 || fields.iter().any(|f| f.is_empty()) || !ok_chars {
                return Err(invalid(format!(
                    "cron pattern {pattern:?} needs six fields separated by single spaces \
                     (seconds first) or a predefined @name (ADR-51)"
                )));
            }
        }
        Ok(Self::new(Pattern::Cron(pattern), target))
    }

    /// `Nats-Schedule-Source`: publish the last message on `subject` (no wildcards) instead
    /// of the schedule's own body (which is the fallback when `subject` has none).
    pub fn source(mut self, subject: impl Into<String>) -> Self {
        self.source = Some(subject.into());
        self
    }

    /// `Nats-Schedule-TTL`: the produced messages expire after `ttl` (the stream needs
    /// `allow_msg_ttl`).
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }

    /// `Nats-Schedule-Time-Zone` (2.14+): the IANA time zone (`America/New_York`) a cron
    /// pattern runs in instead of UTC. Cron schedules only.
    pub fn time_zone(mut self, zone: impl Into<String>) -> Result<Self> {
        let zone = zone.into();
        if !matches!(self.pattern, Pattern::Cron(_)) {
            return Err(invalid(
                "a time zone only applies to cron schedules (ADR-51)",
            ));
        }
        if zone.is_empty() {
            return Err(invalid("an empty time zone: omit it for UTC (ADR-51)"));
        }
        self.time_zone = Some(zone);
        Ok(self)
    }

    /// `Nats-Schedule-Rollup: sub` (2.14+): each produced message replaces the earlier ones
    /// on the target subject.
    pub fn rollup(mut self) -> Self {
        self.rollup = true;
        self
    }

    /// The `Nats-Schedule` header value.
    pub fn pattern(&self) -> String {
        match &self.pattern {
            Pattern::At(t) => format!("@at {t}"),
            Pattern::Every(d) => format!("@every {}", go_duration(*d)),
            Pattern::Cron(p) => p.clone(),
        }
    }

    /// The target subject.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// Writes the schedule's headers.
    pub(crate) fn write_headers(&self, headers: &mut HeaderMap) -> Result<()> {
        client::proto::validate_publish_subject(&self.target)
            .map_err(|e| invalid(format!("schedule target {:?}: {e}", self.target)))?;
        if let Some(source) = &self.source {
            client::proto::validate_publish_subject(source)
                .map_err(|e| invalid(format!("schedule source {source:?}: {e}")))?;
        }
        let mut set = |name: &str, value: &str| {
            headers
                .insert(name, value)
                .map_err(|e| invalid(format!("header {name}: {e}")))
        };
        set(SCHEDULE, &self.pattern())?;
        set(TARGET, &self.target)?;
        if let Some(source) = &self.source {
            set(SOURCE, source)?;
        }
        if let Some(ttl) = self.ttl {
            set(SCHEDULE_TTL, &go_duration(ttl))?;
        }
        if let Some(zone) = &self.time_zone {
            set(TIME_ZONE, zone)?;
        }
        if self.rollup {
            set(SCHEDULE_ROLLUP, "sub")?;
        }
        Ok(())
    }
}

fn invalid(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidInput, message)
}

impl Context {
    /// Publishes `schedule` on its own `subject` (which must not be the target) with
    /// `payload` as the body of the messages it produces. Replaces an earlier schedule on
    /// the same subject.
    ///
    /// ```no_run
    /// # async fn demo(js: gnat_jetstream::Context) -> Result<(), gnat_jetstream::Error> {
    /// use std::time::Duration;
    /// use gnat_jetstream::Schedule;
    /// let every = Schedule::every(Duration::from_secs(10), "jobs.cleanup")?;
    /// js.schedule("schedules.cleanup", every, "run").await?;
    /// // … and later:
    /// js.cancel_schedule("JOBS", "schedules.cleanup").await?;
    /// # Ok(()) }
    /// ```
    pub async fn schedule(
        &self,
        subject: impl AsRef<str>,
        schedule: Schedule,
        payload: impl Into<bytes::Bytes>,
    ) -> Result<PubAck> {
        let subject = subject.as_ref();
        let level = if schedule.time_zone.is_some() || schedule.rollup {
            4
        } else {
            2
        };
        self.require_api_level(level, "this message schedule")
            .await?;
        if subject == schedule.target {
            return Err(invalid(
                "a schedule's subject must differ from its target (ADR-51)",
            ));
        }
        self.publish_with(
            subject,
            PublishOptions::new().payload(payload).schedule(schedule),
        )
        .await
    }

    /// Stops the schedule on `subject` of `stream` by purging the subject; returns whether
    /// there was one to stop.
    pub async fn cancel_schedule(&self, stream: &str, subject: &str) -> Result<bool> {
        if subject.contains(['*', '>']) {
            return Err(invalid(
                "cancel one schedule subject at a time (purge_stream takes wildcards)",
            ));
        }
        Ok(self
            .purge_stream(stream, PurgeRequest::new().filter(subject))
            .await?
            > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_become_headers() {
        let mut h = HeaderMap::new();
        Schedule::cron("@hourly", "t")
            .unwrap()
            .time_zone("America/New_York")
            .unwrap()
            .ttl(Duration::from_secs(300))
            .source("s.raw")
            .rollup()
            .write_headers(&mut h)
            .unwrap();
        let got: Vec<(&str, &str)> = h.iter().collect();
        assert_eq!(
            got,
            vec![
                ("Nats-Schedule", "@hourly"),
                ("Nats-Schedule-Target", "t"),
                ("Nats-Schedule-Source", "s.raw"),
                ("Nats-Schedule-TTL", "5m0s"),
                ("Nats-Schedule-Time-Zone", "America/New_York"),
                ("Nats-Schedule-Rollup", "sub"),
            ]
        );
        let at = Schedule::at(Timestamp::parse("2030-01-02T03:04:05.5Z").unwrap(), "t");
        assert_eq!(at.pattern(), "@at 2030-01-02T03:04:05.5Z");
        assert!(at.clone().time_zone("UTC").is_err());
        assert_eq!(
            Schedule::every(Duration::from_millis(1500), "t")
                .unwrap()
                .pattern(),
            "@every 1.5s"
        );
        assert!(Schedule::every(Duration::from_millis(999), "t").is_err());
        for bad in [
            "* * * * *",
            "* * * * * * *",
            "*  * * * * *",
            "@often",
            "* * * * * ;",
        ] {
            assert!(Schedule::cron(bad, "t").is_err(), "{bad:?}");
        }
        assert!(Schedule::cron("*/5 0-30 8-17 * jan-mar mon,fri", "t").is_ok());
        let mut h = HeaderMap::new();
        assert!(
            Schedule::at(Timestamp::now(), "bad target")
                .write_headers(&mut h)
                .is_err()
        );
        assert!(h.is_empty());
    }
}
