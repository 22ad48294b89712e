//! A service endpoint: gnat-service against async-nats' `service` module, same server, same
//! run.
//!
//! `cargo bench -p gnat-benches --bench service`
//!
//! Shape (issue: the services framework's performance section): requests per second through
//! one service endpoint that echoes the payload, with 64 requests in flight. The requester is
//! the same gnat connection for every variant, so only the service side differs; each service
//! runs on its own connection. Variants:
//! * `gnat-stream`: a gnat [`Endpoint`](service::Endpoint) read as a stream, answered in order
//!   (the shape of async-nats' endpoint);
//! * `gnat-serve`: a gnat endpoint with an async handler per request
//!   ([`EndpointBuilder::serve`](service::EndpointBuilder::serve));
//! * `async-nats`: an async-nats 0.51 service endpoint read as a stream, answered in order.
//!
//! Each element is one request; the endpoint's own statistics are kept by both frameworks.
//! Beside the rate, each variant prints the CPU time per request of this process (requester
//! and service together; the requester is the same for all, so the difference is the
//! service's) and of the server: on a loaded 2-core machine the rates are noisy, the CPU
//! times much less so.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use futures_util::StreamExt;
use gnat_test_support::NatsServer;

// Not every helper is used here.
#[allow(dead_code)]
mod common;
mod cpu;

use cpu::CpuMeter;

use common::runtime;

const IN_FLIGHT: u64 = 64;

fn endpoint_64_in_flight(c: &mut Criterion) {
    let server = NatsServer::start();
    let url = server.url();
    let rt = runtime();

    // The three services, each on its own connection.
    let (_gnat_services, _official) = rt.block_on(async {
        let stream_conn = client::connect(&url).await.unwrap();
        let streamed = service::Service::builder("bench-gnat-stream", "1.0.0")
            .start(&stream_conn)
            .await
            .unwrap();
        let mut endpoint = streamed
            .endpoint("echo")
            .subject("bench.gnat.stream")
            .add()
            .await
            .unwrap();
        tokio::spawn(async move {
            while let Some(request) = endpoint.next().await {
                let payload = request.payload().clone();
                let _ = request.respond(payload).await;
            }
        });

        let serve_conn = client::connect(&url).await.unwrap();
        let served = service::Service::builder("bench-gnat-serve", "1.0.0")
            .start(&serve_conn)
            .await
            .unwrap();
        served
            .endpoint("echo")
            .subject("bench.gnat.serve")
            .serve(|request| async move {
                let payload = request.payload().clone();
                let _ = request.respond(payload).await;
            })
            .await
            .unwrap();

        use async_nats::service::ServiceExt;
        let official_conn = async_nats::connect(&url).await.unwrap();
        let official = official_conn
            .service_builder()
            .start("bench-official", "1.0.0")
            .await
            .unwrap();
        let mut endpoint = official.endpoint("bench.official").await.unwrap();
        tokio::spawn(async move {
            while let Some(request) = endpoint.next().await {
                let payload = request.message.payload.clone();
                let _ = request.respond(Ok(payload)).await;
            }
        });
        official_conn.flush().await.unwrap();
        (
            (streamed, served, stream_conn, serve_conn),
            (official, official_conn),
        )
    });
    let requester = rt.block_on(client::connect(&url)).unwrap();
    let meter = CpuMeter::new(server.pid());

    let mut group = c.benchmark_group("service_endpoint_64_in_flight");
    group.sample_size(10);
    group.throughput(Throughput::Elements(1));
    for (name, subject) in [
        ("gnat-stream", "bench.gnat.stream"),
        ("gnat-serve", "bench.gnat.serve"),
        ("async-nats", "bench.official"),
    ] {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let per_task = iters.div_ceil(IN_FLIGHT);
                    let elapsed = meter
                        .measure(per_task * IN_FLIGHT, async {
                            let tasks: Vec<_> = (0..IN_FLIGHT)
                                .map(|_| {
                                    let client = requester.clone();
                                    tokio::spawn(async move {
                                        for _ in 0..per_task {
                                            client.request(subject, "ping").await.unwrap();
                                        }
                                    })
                                })
                                .collect();
                            for t in tasks {
                                t.await.unwrap();
                            }
                        })
                        .await;
                    elapsed.mul_f64(iters as f64 / (per_task * IN_FLIGHT) as f64)
                })
            })
        });
        meter.report(&format!("service_endpoint_64_in_flight/{name}"), "request");
    }
    group.finish();
}

criterion_group!(benches, endpoint_64_in_flight);
criterion_main!(benches);
