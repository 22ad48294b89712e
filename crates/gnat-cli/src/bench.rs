//! `gnat bench`: publish, publish+subscribe, request/reply and KV put/get throughput, with a
//! progress line on stderr while it runs (on a terminal) and a summary table on stdout.
//!
//! Every client has its own connection, made before the clock starts. A run is bounded by
//! `--msgs` or, with `--duration`, by time (what the reliability soak uses). Failed operations
//! are counted, not fatal: the run goes on, the table shows them, and the exit code is 1.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use kv::jetstream::Context;
use kv::jetstream::client::{Client, Request};
use kv::{Bytes, Config, StorageType, Store};
use serde_json::{Value, json};

use crate::conn::ConnectionArgs;
use crate::error::{CliError, Result};
use crate::histogram::Histogram;
use crate::progress::{Bar, Unit};
use crate::table::{Align, Table};
use crate::term;
use crate::units::{self, parse_duration, parse_size};

/// What `gnat bench` measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum BenchKind {
    /// Publishers only (`--pub`)
    Pub,
    /// Publishers and subscribers (`--pub`, `--sub`); every subscriber gets every message
    Pubsub,
    /// Requesters (`--clients`) against responders (`--sub`) in a queue group
    Req,
    /// KV puts (`--clients`) into a bucket
    Kvput,
    /// KV gets (`--clients`) of `--keys` keys written first
    Kvget,
}

impl BenchKind {
    fn name(self) -> &'static str {
        match self {
            BenchKind::Pub => "pub",
            BenchKind::Pubsub => "pubsub",
            BenchKind::Req => "req",
            BenchKind::Kvput => "kvput",
            BenchKind::Kvget => "kvget",
        }
    }
}

/// `gnat bench`.
#[derive(Debug, Args)]
pub(crate) struct BenchArgs {
    /// What to measure
    #[arg(value_enum)]
    kind: BenchKind,
    /// Messages (or operations) in all, shared among the clients
    #[arg(long, default_value_t = 100_000)]
    msgs: u64,
    /// Payload size (e.g. 128, 1KiB)
    #[arg(long, value_name = "SIZE", default_value = "128", value_parser = parse_size)]
    size: u64,
    /// Publishers (pub, pubsub)
    #[arg(long = "pub", value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1024))]
    publishers: u32,
    /// Subscribers (pubsub) or responders (req)
    #[arg(long = "sub", value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1024))]
    subscribers: u32,
    /// Concurrent clients (req, kvput, kvget)
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1024))]
    clients: u32,
    /// Run for this long instead of --msgs (e.g. 30s, 10m)
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    duration: Option<Duration>,
    /// Subject (pub, pubsub, req)
    #[arg(long, default_value = "gnat.bench")]
    subject: String,
    /// Bucket (kvput, kvget); created in memory if missing, and then deleted afterwards
    #[arg(long, default_value = "gnat_bench")]
    bucket: String,
    /// Distinct keys written and read (kvput, kvget)
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..))]
    keys: u64,
    /// Keep a bucket the benchmark created
    #[arg(long)]
    keep: bool,
    /// Print the summary as JSON
    #[arg(long)]
    json: bool,
}

/// Operations done and failed, shared by the workers and the progress line.
#[derive(Default)]
struct Tally {
    done: AtomicU64,
    failed: AtomicU64,
    first_error: Mutex<Option<String>>,
}

impl Tally {
    fn fail(&self, err: impl std::fmt::Display) {
        self.failed.fetch_add(1, Ordering::Relaxed);
        let mut first = self.first_error.lock().unwrap_or_else(|e| e.into_inner());
        if first.is_none() {
            *first = Some(err.to_string());
        }
    }
}

/// How much each worker does: a share of `--msgs`, or everything until the deadline.
#[derive(Clone, Copy)]
struct Budget {
    quota: u64,
    deadline: Option<Instant>,
}

impl Budget {
    /// Whether a worker that has made `attempts` attempts goes on.
    fn more(&self, attempts: u64) -> bool {
        match self.deadline {
            // Checking the clock every time would cost more than a publish.
            Some(deadline) => !attempts.is_multiple_of(16) || Instant::now() < deadline,
            None => attempts < self.quota,
        }
    }
}

/// Worker `i` of `n`'s share of `total`.
fn share(total: u64, n: u64, i: u64) -> u64 {
    total / n + u64::from(i < total % n)
}

/// One line of the summary.
#[derive(Debug)]
struct Row {
    role: &'static str,
    clients: u32,
    msgs: u64,
    elapsed: Duration,
    latency: Option<Histogram>,
    errors: u64,
}

impl Row {
    fn rate(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.msgs as f64 / secs
        } else {
            0.0
        }
    }
}

/// The run as a whole.
struct Run {
    args: BenchArgs,
    tally: Arc<Tally>,
}

/// Runs `gnat bench`.
pub(crate) async fn run(conn: &ConnectionArgs, args: BenchArgs) -> Result<()> {
    if args.duration.is_none() && args.msgs == 0 {
        return Err(CliError::usage("--msgs must be at least 1"));
    }
    let run = Run {
        args,
        tally: Arc::new(Tally::default()),
    };
    let rows = match run.args.kind {
        BenchKind::Pub => run.publish(conn, false).await?,
        BenchKind::Pubsub => run.publish(conn, true).await?,
        BenchKind::Req => run.request(conn).await?,
        BenchKind::Kvput | BenchKind::Kvget => run.key_value(conn).await?,
    };
    run.report(&rows)?;
    let failed: u64 = rows.iter().map(|r| r.errors).sum();
    if failed > 0 {
        let first = run
            .tally
            .first_error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .unwrap_or_else(|| "messages were lost".to_string());
        return Err(CliError::other(format!(
            "{failed} operations failed; the first: {first}"
        )));
    }
    Ok(())
}

impl Run {
    fn payload(&self) -> Bytes {
        let size = usize::try_from(self.args.size).unwrap_or(usize::MAX);
        Bytes::from(vec![b'#'; size])
    }

    fn budget(&self, workers: u32, i: u32) -> Budget {
        Budget {
            quota: share(self.args.msgs, u64::from(workers), u64::from(i)),
            deadline: self.args.duration.map(|d| Instant::now() + d),
        }
    }

    async fn connect_many(conn: &ConnectionArgs, n: u32) -> Result<Vec<Client>> {
        let mut clients = Vec::with_capacity(n as usize);
        for _ in 0..n {
            clients.push(conn.connect().await?);
        }
        Ok(clients)
    }

    /// Moves the shared progress bar (messages done, or a count and rate under `--duration`)
    /// every 200 ms while the returned guard lives (only on a terminal).
    fn progress(&self) -> Progress {
        let stop = Arc::new(AtomicBool::new(false));
        let total = match self.args.duration {
            Some(_) => None,
            None => Some(self.args.msgs),
        };
        let bar = Arc::new(Bar::new(total, Unit::Messages, true));
        let tally = self.tally.clone();
        let flag = stop.clone();
        let drawing = bar.clone();
        let task = tokio::spawn(async move {
            while !flag.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_millis(200)).await;
                drawing.set(tally.done.load(Ordering::Relaxed));
            }
            drawing.clear();
        });
        Progress {
            stop,
            task: Some(task),
        }
    }

    async fn publish(&self, conn: &ConnectionArgs, with_subscribers: bool) -> Result<Vec<Row>> {
        let args = &self.args;
        let mut receivers = Vec::new();
        if with_subscribers {
            for _ in 0..args.subscribers {
                let client = conn.connect().await?;
                let sub = client.subscribe(&args.subject).await?;
                client.flush().await?;
                receivers.push((client, sub));
            }
        }
        let publishers = Self::connect_many(conn, args.publishers).await?;
        let payload = self.payload();
        let progress = self.progress();
        let started = Instant::now();

        let counters: Vec<Arc<(AtomicU64, AtomicU64)>> = receivers
            .iter()
            .map(|_| Arc::new((AtomicU64::new(0), AtomicU64::new(0))))
            .collect();
        let mut sub_tasks = Vec::new();
        let mut sub_clients = Vec::new();
        for ((client, mut sub), counter) in receivers.into_iter().zip(&counters) {
            let counter = counter.clone();
            sub_clients.push(client);
            sub_tasks.push(tokio::spawn(async move {
                while sub.next().await.is_some() {
                    counter.0.fetch_add(1, Ordering::Relaxed);
                    let at = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
                    counter.1.store(at, Ordering::Relaxed);
                }
                sub.dropped()
            }));
        }

        let mut pub_tasks = Vec::new();
        for (i, client) in publishers.into_iter().enumerate() {
            let budget = self.budget(args.publishers, i as u32);
            let subject = args.subject.clone();
            let payload = payload.clone();
            let tally = self.tally.clone();
            pub_tasks.push(tokio::spawn(async move {
                let (mut sent, mut attempts) = (0u64, 0u64);
                while budget.more(attempts) {
                    attempts += 1;
                    match client.publish(&subject, payload.clone()).await {
                        Ok(()) => {
                            sent += 1;
                            if sent % 64 == 0 {
                                tally.done.fetch_add(64, Ordering::Relaxed);
                            }
                        }
                        Err(e) => tally.fail(e),
                    }
                }
                tally.done.fetch_add(sent % 64, Ordering::Relaxed);
                if let Err(e) = client.flush().await {
                    tally.fail(e);
                }
                client.close().await;
                sent
            }));
        }
        let mut published = 0;
        for task in pub_tasks {
            published += task.await.unwrap_or(0);
        }
        let pub_elapsed = started.elapsed();
        let mut rows = vec![Row {
            role: "publish",
            clients: args.publishers,
            msgs: published,
            elapsed: pub_elapsed,
            latency: None,
            errors: self.tally.failed.load(Ordering::Relaxed),
        }];

        if with_subscribers {
            // Wait until every subscriber has everything, or nothing arrives for 2 s.
            let expected = published * u64::from(args.subscribers);
            let received = || -> u64 { counters.iter().map(|c| c.0.load(Ordering::Relaxed)).sum() };
            let (mut last, mut last_change) = (received(), Instant::now());
            while last < expected && last_change.elapsed() < Duration::from_secs(2) {
                tokio::time::sleep(Duration::from_millis(10)).await;
                let now = received();
                if now != last {
                    (last, last_change) = (now, Instant::now());
                }
            }
            for client in &sub_clients {
                client.close().await;
            }
            for task in sub_tasks {
                let _ = task.await;
            }
            let got = received();
            let elapsed = counters
                .iter()
                .map(|c| Duration::from_nanos(c.1.load(Ordering::Relaxed)))
                .max()
                .unwrap_or_default();
            rows.push(Row {
                role: "subscribe",
                clients: args.subscribers,
                msgs: got,
                elapsed,
                latency: None,
                errors: expected.saturating_sub(got),
            });
        }
        progress.finish().await;
        Ok(rows)
    }

    async fn request(&self, conn: &ConnectionArgs) -> Result<Vec<Row>> {
        let args = &self.args;
        let mut responders = Vec::new();
        for _ in 0..args.subscribers {
            let client = conn.connect().await?;
            let mut sub = client.queue_subscribe(&args.subject, "gnat-bench").await?;
            client.flush().await?;
            let answering = client.clone();
            responders.push(client);
            tokio::spawn(async move {
                while let Some(msg) = sub.next().await {
                    if let Some(reply) = &msg.reply {
                        let _ = answering.publish(reply.as_str(), msg.payload.clone()).await;
                    }
                }
            });
        }
        let clients = Self::connect_many(conn, args.clients).await?;
        let payload = self.payload();
        let timeout = conn.timeout;
        let progress = self.progress();
        let started = Instant::now();
        let mut tasks = Vec::new();
        for (i, client) in clients.into_iter().enumerate() {
            let budget = self.budget(args.clients, i as u32);
            let subject = args.subject.clone();
            let payload = payload.clone();
            let tally = self.tally.clone();
            tasks.push(tokio::spawn(async move {
                let mut histogram = Histogram::new();
                let mut attempts = 0u64;
                while budget.more(attempts) {
                    attempts += 1;
                    let at = Instant::now();
                    let request = Request::new().payload(payload.clone()).timeout(timeout);
                    match client.send_request(&subject, request).await {
                        Ok(_) => {
                            histogram.record(at.elapsed());
                            tally.done.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => tally.fail(e),
                    }
                }
                client.close().await;
                histogram
            }));
        }
        let latency = merged(tasks).await;
        let elapsed = started.elapsed();
        progress.finish().await;
        for client in &responders {
            client.close().await;
        }
        Ok(vec![Row {
            role: "request",
            clients: args.clients,
            msgs: latency.count(),
            elapsed,
            latency: Some(latency),
            errors: self.tally.failed.load(Ordering::Relaxed),
        }])
    }

    /// Binds to the bucket, or creates it (in memory) and says so.
    async fn bucket(&self, js: &Context) -> Result<(Store, bool)> {
        match kv::bind(js, &self.args.bucket).await {
            Ok(store) => Ok((store, false)),
            Err(e) if e.is_bucket_not_found() => {
                let config = Config::new(self.args.bucket.clone()).storage(StorageType::Memory);
                Ok((kv::create_bucket(js, config).await?, true))
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn key_value(&self, conn: &ConnectionArgs) -> Result<Vec<Row>> {
        let args = &self.args;
        let gets = args.kind == BenchKind::Kvget;
        let js = conn.jetstream().await?;
        let (store, created) = self.bucket(&js).await?;
        let payload = self.payload();
        if gets {
            for k in 0..args.keys {
                store.put(&format!("k{k}"), payload.clone()).await?;
            }
        }
        let mut stores = Vec::new();
        for _ in 0..args.clients {
            let js = conn.jetstream().await?;
            stores.push(kv::bind(&js, &args.bucket).await?);
        }
        let progress = self.progress();
        let started = Instant::now();
        let mut tasks = Vec::new();
        for (i, store) in stores.into_iter().enumerate() {
            let budget = self.budget(args.clients, i as u32);
            let payload = payload.clone();
            let tally = self.tally.clone();
            let keys = args.keys;
            tasks.push(tokio::spawn(async move {
                let mut histogram = Histogram::new();
                let mut attempts = 0u64;
                // Each client starts at another key, so they do not all hit the same one.
                let offset = i as u64 * 7919;
                while budget.more(attempts) {
                    let key = format!("k{}", (offset + attempts) % keys);
                    attempts += 1;
                    let at = Instant::now();
                    let outcome = if gets {
                        match store.get(&key).await {
                            Ok(Some(_)) => Ok(()),
                            Ok(None) => Err(format!("key {key} not found")),
                            Err(e) => Err(e.to_string()),
                        }
                    } else {
                        store
                            .put(&key, payload.clone())
                            .await
                            .map(|_| ())
                            .map_err(|e| e.to_string())
                    };
                    match outcome {
                        Ok(()) => {
                            histogram.record(at.elapsed());
                            tally.done.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => tally.fail(e),
                    }
                }
                histogram
            }));
        }
        let latency = merged(tasks).await;
        let elapsed = started.elapsed();
        progress.finish().await;
        if created && !args.keep {
            kv::delete_bucket(&js, &args.bucket).await?;
        }
        Ok(vec![Row {
            role: if gets { "kv get" } else { "kv put" },
            clients: args.clients,
            msgs: latency.count(),
            elapsed,
            latency: Some(latency),
            errors: self.tally.failed.load(Ordering::Relaxed),
        }])
    }

    fn report(&self, rows: &[Row]) -> Result<()> {
        let args = &self.args;
        let size = args.size;
        let mb = |row: &Row| row.rate() * size as f64 / 1e6;
        let micros = |d: Option<Duration>| d.map(|d| d.as_secs_f64() * 1e6);
        if args.json {
            let list: Vec<Value> = rows
                .iter()
                .map(|r| {
                    let q = |p| micros(r.latency.as_ref().and_then(|h| h.quantile(p)));
                    json!({
                        "role": r.role,
                        "clients": r.clients,
                        "msgs": r.msgs,
                        "elapsed_s": r.elapsed.as_secs_f64(),
                        "msgs_per_s": r.rate(),
                        "mb_per_s": mb(r),
                        "p50_us": q(0.5),
                        "p99_us": q(0.99),
                        "errors": r.errors,
                    })
                })
                .collect();
            return term::json(&json!({
                "kind": args.kind.name(),
                "size": size,
                "msgs": args.duration.is_none().then_some(args.msgs),
                "duration_s": args.duration.map(|d| d.as_secs_f64()),
                "rows": list,
            }));
        }
        let what = match args.duration {
            Some(d) => format!("for {}", units::duration(d)),
            None => format!("{} msgs", units::thousands(args.msgs)),
        };
        let mut table = Table::new(&[
            "Role", "Clients", "Msgs", "Elapsed", "Msgs/s", "MB/s", "p50", "p99", "Errors",
        ])
        .title(format!(
            "gnat bench {}: {what} of {}",
            args.kind.name(),
            units::size(size)
        ));
        for column in [1, 2, 3, 4, 5, 6, 7, 8] {
            table = table.align(column, Align::Right);
        }
        for r in rows {
            let q = |p| {
                r.latency
                    .as_ref()
                    .and_then(|h| h.quantile(p))
                    .map_or("-".to_string(), units::latency)
            };
            table.row(vec![
                r.role.to_string(),
                r.clients.to_string(),
                units::thousands(r.msgs),
                units::short_duration(r.elapsed),
                units::thousands(r.rate().round() as u64),
                format!("{:.2}", mb(r)),
                q(0.5),
                q(0.99),
                units::thousands(r.errors),
            ]);
        }
        term::out(table.render().as_bytes())
    }
}

/// The workers' histograms, merged.
async fn merged(tasks: Vec<tokio::task::JoinHandle<Histogram>>) -> Histogram {
    let mut all = Histogram::new();
    for task in tasks {
        if let Ok(h) = task.await {
            all.merge(&h);
        }
    }
    all
}

/// The progress line's task; [`Progress::finish`] stops it and clears the line.
struct Progress {
    stop: Arc<AtomicBool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Progress {
    async fn finish(self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(task) = self.task {
            let _ = task.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_add_up() {
        for (total, n) in [(10, 3), (1, 4), (100_000, 7), (0, 2)] {
            let sum: u64 = (0..n).map(|i| share(total, n, i)).sum();
            assert_eq!(sum, total);
        }
        assert_eq!(share(10, 3, 0), 4);
        assert_eq!(share(10, 3, 2), 3);
    }

    #[test]
    fn budgets() {
        let count = Budget {
            quota: 3,
            deadline: None,
        };
        assert!(count.more(2) && !count.more(3));
        let past = Budget {
            quota: 0,
            deadline: Some(Instant::now()),
        };
        assert!(!past.more(0) && past.more(1));
    }
}
