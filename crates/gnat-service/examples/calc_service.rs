//! A small service with gnat-service: `calc` with an async-function endpoint (`calc.add`) and
//! a stream endpoint (`calc.echo`), then a client that calls it, finds it through `$SRV`
//! discovery, reads its statistics, and stops it.
//!
//! ```text
//! cargo run -p gnat-service --example calc_service
//! ```
//!
//! With `NATS_URL` set it uses that server; without it, it starts a throwaway local
//! `nats-server` (found or installed the way the tests do it) and stops it at the end. While
//! it runs, `gnat micro ls` (or `nats micro ls`) lists it.

use std::error::Error;
use std::io::Write;
use std::time::Duration;

use futures_util::StreamExt;
use gnat_service::{Discovery, Service};

/// Runs the demo against the server at `url`, writing what it shows to `out`.
pub(crate) async fn run<W: Write>(url: &str, out: &mut W) -> Result<(), Box<dyn Error>> {
    let client = gnat_service::client::connect(url).await?;

    // ### The service
    // A name (A-Z a-z 0-9 - _), a SemVer version, and optional description and metadata.
    let service = Service::builder("calc", "1.0.0")
        .description("adds numbers and echoes")
        .metadata("example", "calc_service")
        .start(&client)
        .await?;
    writeln!(out, "started {} {}", service.name(), service.version())?;

    // An endpoint whose handler is an async function, in the group `calc`: it listens on
    // `calc.add`, in the default queue group `q`, so more instances share the work.
    let calc = service.group("calc");
    calc.endpoint("add")
        .metadata("input", "comma-separated integers")
        .serve(|request| async move {
            let text = String::from_utf8_lossy(request.payload()).into_owned();
            let sum: Result<i64, _> = text.split(',').map(|n| n.trim().parse::<i64>()).sum();
            // A failed reply means the client is closing: nothing to do here.
            let _ = match sum {
                Ok(sum) => request.respond(sum.to_string()).await,
                // Sets Nats-Service-Error and Nats-Service-Error-Code, and counts an error.
                Err(e) => request.respond_error(400, &e.to_string()).await,
            };
        })
        .await?;

    // An endpoint read as a stream of requests.
    let mut echo = calc.endpoint("echo").add().await?;
    let echoer = tokio::spawn(async move {
        while let Some(request) = echo.next().await {
            let payload = request.payload().clone();
            let _ = request.respond(payload).await;
        }
        // The stream ends once the service has stopped and drained it.
    });

    // ### A client
    for body in ["1,2,3", "1,x"] {
        let reply = client.request("calc.add", body).await?;
        match reply.headers.as_ref().and_then(gnat_service::service_error) {
            Some((code, text)) => writeln!(out, "calc.add {body} -> error {code}: {text}")?,
            None => writeln!(
                out,
                "calc.add {body} -> {}",
                String::from_utf8_lossy(&reply.payload)
            )?,
        }
    }
    let reply = client.request("calc.echo", "hello").await?;
    writeln!(
        out,
        "calc.echo hello -> {}",
        String::from_utf8_lossy(&reply.payload)
    )?;

    // ### Discovery: what monitoring tools see
    let discovery = Discovery::new(&client).timeout(Duration::from_secs(2));
    for info in discovery.info(Some("calc"), None).await? {
        let subjects: Vec<&str> = info.endpoints.iter().map(|e| e.subject.as_str()).collect();
        writeln!(
            out,
            "found {} {}: {} ({})",
            info.name,
            info.version,
            subjects.join(", "),
            info.description
        )?;
    }
    for stats in discovery.stats(Some("calc"), Some(service.id())).await? {
        for e in &stats.endpoints {
            writeln!(
                out,
                "{}: {} requests, {} errors, last error {:?}",
                e.name, e.num_requests, e.num_errors, e.last_error
            )?;
        }
    }

    // ### Stop: unsubscribe, drain, and wait (within a bound) for the handlers.
    let report = service.stop(Duration::from_secs(5)).await;
    echoer.await?;
    writeln!(out, "stopped, finished: {}", report.finished)?;
    Ok(())
}

fn main() -> Result<(), Box<dyn Error>> {
    // A throwaway server unless NATS_URL names one; it stops when dropped.
    let (url, _server) = match std::env::var("NATS_URL") {
        Ok(url) if !url.is_empty() => (url, None),
        _ => {
            let server = gnat_test_support::NatsServer::start();
            (server.url(), Some(server))
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let mut stdout = std::io::stdout().lock();
    runtime.block_on(run(&url, &mut stdout))?;
    stdout.flush()?;
    Ok(())
}
