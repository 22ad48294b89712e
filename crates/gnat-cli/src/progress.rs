//! The progress bar on stderr, shared by `gnat object put|get` (bytes) and `gnat bench`
//! (messages): drawn at most ten times a second, and only when stderr is a terminal, so that
//! pipes and scripts never see it.

use std::io::Write as _;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, ReadBuf};

use crate::term;
use crate::units::{size, thousands};

/// What the bar counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unit {
    /// Bytes, shown as sizes (`45 MiB / 100 MiB  12 MiB/s`).
    Bytes,
    /// Messages, shown as counts (`4,500 / 10,000  1,234 msgs/s`).
    Messages,
}

/// A progress bar; every method does nothing when the bar is off.
#[derive(Debug)]
pub(crate) struct Bar {
    total: Option<u64>,
    unit: Unit,
    on: bool,
    start: Instant,
    /// Done so far, and when the line was last drawn.
    state: Mutex<(u64, Instant)>,
}

impl Bar {
    /// A bar towards `total` (`None`: open-ended, a count and a rate without a bar), drawn when
    /// `wanted` and stderr is a terminal.
    pub(crate) fn new(total: Option<u64>, unit: Unit, wanted: bool) -> Bar {
        let now = Instant::now();
        Bar {
            total,
            unit,
            on: wanted && term::stderr_is_terminal(),
            start: now,
            state: Mutex::new((0, now)),
        }
    }

    /// Sets how much is done and redraws (at most ten times a second, and at the end).
    pub(crate) fn set(&self, done: u64) {
        if !self.on {
            return;
        }
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        state.0 = done;
        let at_end = self.total.is_some_and(|t| done >= t);
        if state.1.elapsed() < Duration::from_millis(100) && !at_end {
            return;
        }
        state.1 = Instant::now();
        eprint!(
            "\r\x1b[2K{}",
            line(done, self.total, self.unit, self.start.elapsed())
        );
        let _ = std::io::stderr().flush();
    }

    /// Adds `n` to what is done.
    pub(crate) fn add(&self, n: u64) {
        let done = self
            .state
            .lock()
            .map(|s| s.0)
            .unwrap_or(0)
            .saturating_add(n);
        self.set(done);
    }

    /// Draws the final line and ends it with a newline (the bar stays on screen).
    pub(crate) fn finish(&self) {
        if self.on {
            let done = self.state.lock().map(|s| s.0).unwrap_or(0);
            eprintln!(
                "\r\x1b[2K{}",
                line(done, self.total, self.unit, self.start.elapsed())
            );
        }
    }

    /// Erases the line (the caller prints its own summary).
    pub(crate) fn clear(&self) {
        if self.on {
            eprint!("\r\x1b[2K");
            let _ = std::io::stderr().flush();
        }
    }
}

/// `[=========>          ]  45% 45 MiB / 100 MiB  12 MiB/s`, or without a total
/// `4,500 msgs  1,234 msgs/s`.
pub(crate) fn line(done: u64, total: Option<u64>, unit: Unit, elapsed: Duration) -> String {
    const WIDTH: u64 = 30;
    let rate = (done as f64 / elapsed.as_secs_f64().max(0.001)) as u64;
    let (amount, per_second) = match unit {
        Unit::Bytes => (size as fn(u64) -> String, "/s"),
        Unit::Messages => (thousands as fn(u64) -> String, " msgs/s"),
    };
    let Some(total) = total else {
        let what = if unit == Unit::Messages { " msgs" } else { "" };
        return format!("{}{what}  {}{per_second}", amount(done), amount(rate));
    };
    let total = total.max(1);
    let filled = (done.min(total) * WIDTH / total) as usize;
    let mut bar = "=".repeat(filled);
    if filled < WIDTH as usize {
        bar.push('>');
    }
    format!(
        "[{bar:<30}] {:>3}% {} / {}  {}{per_second}",
        done.min(total) * 100 / total,
        amount(done),
        amount(total),
        amount(rate)
    )
}

/// A reader that moves a bar as it is read.
pub(crate) struct Counting<'a, R> {
    /// What is read.
    pub(crate) inner: R,
    /// The bar it moves.
    pub(crate) bar: &'a Bar,
}

impl<R: AsyncRead + Unpin> AsyncRead for Counting<'_, R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        let n = buf.filled().len().saturating_sub(before) as u64;
        if n > 0 {
            self.bar.add(n);
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_lines() {
        let l = line(
            50 << 20,
            Some(100 << 20),
            Unit::Bytes,
            Duration::from_secs(1),
        );
        assert!(l.starts_with("[===============>"), "{l}");
        assert!(l.contains(" 50% 50 MiB / 100 MiB  50 MiB/s"), "{l}");
        assert!(line(5, Some(5), Unit::Bytes, Duration::ZERO).contains("100%"));
        let l = line(4500, Some(10_000), Unit::Messages, Duration::from_secs(2));
        assert!(l.ends_with(" 45% 4,500 / 10,000  2,250 msgs/s"), "{l}");
        assert_eq!(
            line(4500, None, Unit::Messages, Duration::from_secs(2)),
            "4,500 msgs  2,250 msgs/s"
        );
    }

    #[test]
    fn a_bar_that_is_off_draws_nothing() {
        let bar = Bar::new(Some(10), Unit::Bytes, false);
        bar.add(5);
        bar.finish();
        bar.clear();
        assert!(!bar.on);
    }
}
