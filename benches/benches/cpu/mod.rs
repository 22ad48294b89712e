//! CPU accounting shared by the JetStream and KV benchmarks.

/// The CPU time this process and a server process spend in timed sections, per operation:
/// where the time goes (on 2 cores the server's share decides the concurrent figures).
pub(crate) struct CpuMeter {
    server_pid: u32,
    /// Set when a timed section ran since the last report (a name filter may skip some).
    ran: std::cell::Cell<bool>,
    /// CPU time (ns) of this process and of the server, and the operations, since the last
    /// report.
    totals: std::cell::Cell<(u64, u64, u64)>,
}

impl CpuMeter {
    /// A meter of this process against the server with `server_pid`.
    pub(crate) fn new(server_pid: u32) -> Self {
        CpuMeter {
            server_pid,
            ran: std::cell::Cell::new(false),
            totals: std::cell::Cell::new((0, 0, 0)),
        }
    }

    /// Runs `body` (`ops` operations) and returns its wall time, accounting the CPU time
    /// both processes spent meanwhile.
    pub(crate) async fn measure(
        &self,
        ops: u64,
        body: impl std::future::Future<Output = ()>,
    ) -> std::time::Duration {
        self.ran.set(true);
        let (me, server) = (cpu_ns(std::process::id()), cpu_ns(self.server_pid));
        let started = std::time::Instant::now();
        body.await;
        let elapsed = started.elapsed();
        let (c, s, n) = self.totals.get();
        self.totals.set((
            c + cpu_ns(std::process::id()).saturating_sub(me),
            s + cpu_ns(self.server_pid).saturating_sub(server),
            n + ops,
        ));
        elapsed
    }

    /// Prints the CPU time per `unit` since the last report, if a timed section ran; returns
    /// whether one did.
    pub(crate) fn report(&self, name: &str, unit: &str) -> bool {
        let (client, server, n) = self.totals.replace((0, 0, 0));
        let ran = self.ran.replace(false);
        if ran && n > 0 {
            println!(
                "{name:<36} CPU per {unit}: client {:>6.2} µs, server {:>6.2} µs ({n} {unit}s)",
                client as f64 / n as f64 / 1e3,
                server as f64 / n as f64 / 1e3
            );
        }
        ran
    }
}

/// CPU time in nanoseconds of every thread of process `pid` so far
/// (`/proc/<pid>/task/*/schedstat`), 0 where that is not available.
fn cpu_ns(pid: u32) -> u64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}
