//! # gnat
//!
//! The `gnat` command, on top of `gnat-kv` (and, through its re-exports, JetStream and the
//! core client), `gnat-object` and `gnat-service`, following natscli's command names, flags
//! and output shapes:
//!
//! * `gnat account info` — the connection, and whether JetStream is enabled for the account
//!   (natscli's "JetStream is not supported in this account" when not), its API level,
//!   domain, usage and limits;
//! * `gnat stream add|info|ls|rm|purge|edit|get|view|report` and
//!   `gnat consumer add|info|ls|rm|next|sub|pause|resume|report` — JetStream streams and
//!   consumers (pull, and push with `--target`; `next` reads pull consumers, `sub` push ones);
//! * `gnat kv add|put|get|create|update|del|purge|history|revert|info|watch|ls|compact` —
//!   the subcommands, arguments and output shapes of the `nats kv` CLI (the bucket information
//!   block, the history table, `get`'s header line, values echoed by writes);
//! * `gnat object add|put|get|info|ls|del|seal|watch` — the `nats object` subcommands and
//!   output shapes, with a progress bar on stderr for large puts and gets (`object`);
//! * `gnat pub|sub|req|reply` — core NATS from the command line;
//! * `gnat micro ls|info|stats|ping` — NATS services (ADR-32) found through `$SRV`
//!   discovery, with the output shapes of `nats micro` (on `gnat-service`);
//! * `gnat rtt`, `gnat server ping`, `gnat server check connection` — round trips, the
//!   servers answering `$SYS.REQ.SERVER.PING`, and a monitoring check with Nagios output;
//! * `gnat bench pub|pubsub|req|kvput|kvget` — throughput (and latency percentiles), with a
//!   progress bar on stderr and a summary table on stdout; `--duration` runs by time;
//! * `gnat context add|ls|select|show|rm` — natscli's context files;
//! * `gnat completions bash|zsh|fish` and `gnat man` — generated from the clap definitions.
//!
//! Every command takes the connection flags (`--server`/`-s`, default `NATS_URL`, then the
//! `--context` or selected natscli context, then `nats://127.0.0.1:4222`; `--user`/
//! `--password`, `--token`, `--creds`, `--nkey`, `--tlscert`/`--tlskey`/`--tlsca`,
//! `--js-domain`, `--timeout`), and every read command `--json`.
//!
//! ## Errors and exit codes
//!
//! A failure is one line on stderr, `gnat: error: <message>` — the server's own description
//! when it gave one (`gnat: error: wrong last sequence: 1: key exists`) — and an exit code:
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | any other failure (timeout, no responders, local IO) |
//! | 2 | usage: bad arguments or flags, invalid bucket/key names, a confirmation that was refused or impossible (no terminal and no `-f`) |
//! | 3 | connection: the server cannot be reached, refused the credentials, or TLS failed |
//! | 4 | refused by the server: an API error, key exists, wrong revision, not found, permission denied |
//!
//! Destructive commands (`stream rm|purge|edit`, `consumer rm|pause|resume`, `kv del|purge|
//! compact|revert`, bucket removal, `object del`) ask on the terminal, as natscli does; when
//! stdin is not a terminal they refuse (exit 2) unless given `-f`.
//!
//! `gnat server check …` is the exception: it prints its result on stdout and exits with the
//! Nagios codes (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN) for monitoring systems.
//!
//! ## What it does not do
//!
//! No NATS logic of its own: connections, JetStream and the KV store are the library crates'.
//! Times are shown in UTC (no time-zone database).
//!
//! ## Layout
//!
//! `main` (the command line and dispatch) and one module per command group: `kv_commands`
//! (`gnat kv`, with `show` for what it prints), `object`, `micro`, `pubsub` (pub, sub, req,
//! reply), `bench`. One module per shared concern: `conn` (connection flags), `units` (sizes,
//! durations, counts: shown and parsed), `clock` (UTC times), `table` (box tables and the
//! `Label: value` blocks), `json` (payload forms), `progress` (the progress bar), `histogram`
//! (latencies), `term` (stdout, stdin, confirmation), `error` (messages and exit codes).

#![forbid(unsafe_code)]

mod account;
mod bench;
mod clock;
mod conn;
mod consumer;
mod context;
mod docs;
mod error;
mod histogram;
mod json;
mod kv_commands;
mod micro;
mod object;
mod progress;
mod pubsub;
mod server;
mod stream;
mod table;
mod term;
mod units;

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

use crate::conn::ConnectionArgs;
use crate::error::{CliError, Failure, Result};

const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  other failure (timeout, no responders, local IO)
  2  usage error (bad arguments, invalid names, confirmation refused or impossible)
  3  connection failure (server unreachable, authentication or TLS refused)
  4  refused by the server (API error, key exists, wrong revision, not found)
`gnat server check` exits with Nagios codes instead: 0 OK, 1 WARNING, 2 CRITICAL.";

/// The command line.
#[derive(Debug, Parser)]
#[command(
    name = "gnat",
    version,
    about = "A NATS command line: account, streams, consumers, Key-Value and Object stores, services, server checks, publish/subscribe, benchmarks",
    after_help = EXIT_CODES,
    arg_required_else_help = true
)]
struct Cli {
    #[command(flatten)]
    conn: ConnectionArgs,
    #[command(subcommand)]
    command: Command,
}

/// The top-level commands.
#[derive(Debug, Subcommand)]
enum Command {
    /// Shows account information: the connection, and JetStream usage and limits
    #[command(subcommand, arg_required_else_help = true, after_help = EXIT_CODES)]
    Account(account::AccountCommand),
    /// Manages JetStream streams
    #[command(subcommand, alias = "str", arg_required_else_help = true, after_help = EXIT_CODES)]
    Stream(stream::StreamCommand),
    /// Manages JetStream consumers
    #[command(subcommand, alias = "con", arg_required_else_help = true, after_help = EXIT_CODES)]
    Consumer(consumer::ConsumerCommand),
    /// Measures the round trip to each server
    Rtt(server::RttArgs),
    /// Server checks: ping the cluster, monitoring checks with Nagios exit codes
    #[command(subcommand, alias = "srv", arg_required_else_help = true)]
    Server(server::ServerCommand),
    /// Manages natscli's connection contexts (~/.config/nats/context)
    #[command(subcommand, alias = "ctx", arg_required_else_help = true)]
    Context(context::ContextCommand),
    /// Prints shell completions (bash, zsh, fish)
    Completions(docs::CompletionsArgs),
    /// Prints the man page (or writes every page into a directory)
    Man(docs::ManArgs),
    /// Interacts with a JetStream Key-Value store
    ///
    /// A Key-Value bucket is a JetStream stream that keeps values by key, with a configurable
    /// number of revisions per key and an optional TTL.
    #[command(subcommand, arg_required_else_help = true, after_help = EXIT_CODES)]
    Kv(kv_commands::KvCommand),
    /// Interacts with a JetStream Object Store
    ///
    /// An Object Store bucket is a JetStream stream that keeps objects of any size in chunks,
    /// with their info (size, digest, headers) beside them.
    #[command(subcommand, alias = "obj", arg_required_else_help = true, after_help = EXIT_CODES)]
    Object(object::ObjectCommand),
    /// Publishes a message
    Pub(pubsub::PubArgs),
    /// Subscribes to a subject and prints what arrives (Ctrl-C to stop)
    Sub(pubsub::SubArgs),
    /// Sends a request and prints the reply
    #[command(alias = "request")]
    Req(pubsub::ReqArgs),
    /// Answers requests on a subject (Ctrl-C to stop)
    Reply(pubsub::ReplyArgs),
    /// Measures throughput and latency
    Bench(bench::BenchArgs),
    /// Finds NATS services and shows their information and statistics
    #[command(subcommand, arg_required_else_help = true, after_help = EXIT_CODES)]
    Micro(micro::MicroCommand),
}

async fn run(cli: Cli) -> Result<()> {
    let mut conn = cli.conn;
    if let Command::Completions(args) = cli.command {
        return docs::completions(Cli::command(), args);
    }
    if let Command::Man(args) = cli.command {
        return docs::man(Cli::command(), args);
    }
    if let Command::Context(command) = cli.command {
        // Contexts are written from the flags as typed.
        return context::run(&conn, command);
    }
    if let Some(name) = &conn.context {
        context::validate_name(name)?;
    }
    context::apply(&mut conn)?;
    match cli.command {
        Command::Account(command) => account::run(&conn, command).await,
        Command::Stream(command) => stream::run(&conn, command).await,
        Command::Consumer(command) => consumer::run(&conn, command).await,
        Command::Rtt(args) => server::run_rtt(&conn, args).await,
        Command::Server(command) => server::run(&conn, command).await,
        Command::Context(_) | Command::Completions(_) | Command::Man(_) => Ok(()),
        Command::Kv(command) => kv_commands::run(&conn, command).await,
        Command::Object(command) => object::run(&conn, command).await,
        Command::Pub(args) => pubsub::publish(&conn, args).await,
        Command::Sub(args) => pubsub::sub(&conn, args).await,
        Command::Req(args) => pubsub::req(&conn, args).await,
        Command::Reply(args) => pubsub::reply(&conn, args).await,
        Command::Bench(args) => bench::run(&conn, args).await,
        Command::Micro(command) => micro::run(&conn, command).await,
    }
}

fn main() -> ExitCode {
    // Usage errors end here: one line on stderr and exit code 2 (--help and --version print
    // in full and exit 0).
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e)
            if !e.use_stderr()
                || e.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand =>
        {
            e.exit()
        }
        Err(e) => {
            eprintln!("gnat: error: {}", usage_line(&e));
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return report(&CliError::other(format!("cannot start the runtime: {e}"))),
    };
    let outcome = runtime.block_on(async {
        let outcome = run(cli).await;
        settle().await;
        outcome
    });
    runtime.shutdown_background();
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => report(&e),
    }
}

/// Lets the tasks the command leaves behind finish, for at most a second: connections closing
/// (flushing what they hold) and the KV layer deleting the server-side consumers of finished
/// reads. Without this they would be cut off and the consumers left to expire.
async fn settle() {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(1);
    let metrics = tokio::runtime::Handle::current().metrics();
    while metrics.num_alive_tasks() > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
}

/// The first line of a clap error, without its `error: ` prefix.
fn usage_line(err: &clap::Error) -> String {
    let text = err.to_string();
    let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    first
        .strip_prefix("error: ")
        .unwrap_or(first)
        .trim()
        .to_string()
}

/// Prints the error line (unless the failure is a quiet one) and returns its exit code.
fn report(err: &CliError) -> ExitCode {
    if !matches!(err.kind, Failure::Quiet | Failure::Status(_)) {
        eprintln!("gnat: error: {}", err.message);
    }
    ExitCode::from(err.kind.exit_code())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn flags_parse_before_and_after_the_subcommand() {
        let cli = Cli::try_parse_from(["gnat", "-s", "nats://a:1", "kv", "ls"]).unwrap();
        assert_eq!(cli.conn.url(), "nats://a:1");
        let cli = Cli::try_parse_from([
            "gnat",
            "kv",
            "add",
            "--history=3",
            "B",
            "-s",
            "nats://b:2",
            "--timeout",
            "2s",
        ])
        .unwrap();
        assert_eq!(cli.conn.url(), "nats://b:2");
        assert_eq!(cli.conn.timeout, std::time::Duration::from_secs(2));
        let err = Cli::try_parse_from(["gnat", "kv", "get", "B"]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        let err = Cli::try_parse_from(["gnat", "--user", "u", "kv", "ls"]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
    }
}
