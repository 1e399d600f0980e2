//! `entityChanged` end to end through `dictamesh dev`: a multipart subscriber
//! follows customers (with `invoices` from another subgraph), customers are
//! created through the router, and the time from sending each mutation to
//! receiving its event (entity resolved) is measured: sequential writes give
//! the latency, a burst of concurrent writes the delivery rate.
//!
//! `cargo bench -p dictamesh-cli --bench subscription_latency`

#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::HashMap;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::json;
use support::{Parts, graphql, start};

const SEQUENTIAL: usize = 200;
const BURST: usize = 500;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    let dev = start(&[]);
    let url = format!("{}graphql", dev.router);
    let mut parts = Parts::open(
        &url,
        r#"subscription { entityChanged(type: "Customer") { entityId entity { ... on Customer { name invoices { invoiceNumber } } } } }"#,
        json!({}),
    );
    let (arrivals, arrived) = mpsc::channel();
    std::thread::spawn(move || {
        while let Some(payload) = parts.next_payload_or_end() {
            let id = payload["data"]["entityChanged"]["entityId"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            if arrivals.send((id, Instant::now())).is_err() {
                break;
            }
        }
    });
    let create = |n: usize| -> (String, Instant) {
        let sent = Instant::now();
        let query = format!(
            r#"mutation {{ createCustomer(input: {{name: "C{n}", email: "c{n}@example.com"}}) {{ id }} }}"#
        );
        let id = graphql(&dev, &query)["createCustomer"]["id"]
            .as_str()
            .unwrap()
            .to_string();
        (id, sent)
    };

    let mut latencies = Vec::with_capacity(SEQUENTIAL);
    for n in 0..SEQUENTIAL {
        let (id, sent) = create(n);
        loop {
            let (arrived_id, at) = arrived
                .recv_timeout(Duration::from_secs(30))
                .expect("the event arrives");
            if arrived_id == id {
                latencies.push(at - sent);
                break;
            }
        }
    }
    latencies.sort();
    println!(
        "write -> subscriber (entity resolved), {SEQUENTIAL} sequential writes: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        percentile(&latencies, 0.50).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
        latencies[latencies.len() - 1].as_secs_f64() * 1e3,
    );

    let started = Instant::now();
    let sent: HashMap<String, Instant> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..8)
            .map(|worker| {
                let create = &create;
                scope.spawn(move || {
                    (0..BURST / 8)
                        .map(|i| create(SEQUENTIAL + worker * BURST + i))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers.into_iter().flat_map(|w| w.join().unwrap()).collect()
    });
    let written = started.elapsed();
    let mut burst = Vec::with_capacity(sent.len());
    while burst.len() < sent.len() {
        let (id, at) = arrived
            .recv_timeout(Duration::from_secs(30))
            .expect("the burst arrives");
        if let Some(sent_at) = sent.get(&id) {
            burst.push(at - *sent_at);
        }
    }
    let elapsed = started.elapsed();
    burst.sort();
    println!(
        "burst of {} writes from 8 clients: written in {:.2} s, all delivered in {:.2} s ({:.0} events/s to the subscriber), latency p50 {:.1} ms, p99 {:.1} ms",
        burst.len(),
        written.as_secs_f64(),
        elapsed.as_secs_f64(),
        burst.len() as f64 / elapsed.as_secs_f64(),
        percentile(&burst, 0.50).as_secs_f64() * 1e3,
        percentile(&burst, 0.99).as_secs_f64() * 1e3,
    );
}
