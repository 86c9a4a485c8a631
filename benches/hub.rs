//! ns per delivery rendered: the hub handling one BCST to N users, and the
//! mesg rendering copied into each recipient's output buffer, as the
//! server's `deliver` does (render once per dialect, copy per recipient).
//! No sockets: this is the part of a broadcast that is ours, not the
//! kernel's.
//!
//! Run with `cargo bench --bench hub`. Elements = deliveries (N - 1).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

use pollchat::dialect::mesg;
use pollchat::hub::{ConnId, Deliveries, Hub, Request};
use std::hint::black_box;
use std::time::Duration;

/// A hub with `n` registered users, tokens 0..n.
fn hub_with(n: usize) -> Hub {
    let mut hub = Hub::new();
    let mut out = Deliveries::new();
    let pool = hub.add_pool(n);
    for i in 0..n {
        let open = Request::Open {
            fd: i as i32 + 10,
            pool,
        };
        hub.handle(ConnId(i), open, &mut out);
        let name = format!("c{i}");
        hub.handle(ConnId(i), Request::Register { name: &name }, &mut out);
        out.clear();
    }
    hub
}

fn broadcast(c: &mut Criterion) {
    let text = vec![b'x'; 64];
    let mut group = c.benchmark_group("broadcast");
    for n in [10usize, 100, 1000] {
        group.throughput(Throughput::Elements(n as u64 - 1));
        // The hub alone: who gets it.
        group.bench_with_input(BenchmarkId::new("hub", n), &n, |b, &n| {
            let mut hub = hub_with(n);
            let mut out = Deliveries::new();
            b.iter(|| {
                out.clear();
                hub.handle(ConnId(0), Request::Broadcast { text: &text }, &mut out);
                black_box(out.iter().count())
            })
        });
        // Hub, render once, copy into every recipient's buffer.
        group.bench_with_input(BenchmarkId::new("hub+render", n), &n, |b, &n| {
            let mut hub = hub_with(n);
            let mut out = Deliveries::new();
            let mut buffers: Vec<Vec<u8>> = vec![Vec::with_capacity(4096); n];
            let mut rendered = Vec::new();
            b.iter(|| {
                out.clear();
                hub.handle(ConnId(0), Request::Broadcast { text: &text }, &mut out);
                for (event, to) in out.iter() {
                    rendered.clear();
                    (mesg::PROTOCOL.render)(event, &mut rendered);
                    for token in to {
                        let buf = &mut buffers[token.0];
                        buf.clear();
                        buf.extend_from_slice(&rendered);
                    }
                }
                black_box(&buffers);
            })
        });
    }
    group.finish();
}

fn config() -> Criterion {
    // Short runs (see benches/framing.rs).
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30)
}

criterion_group! {
    name = benches;
    config = config();
    targets = broadcast
}
criterion_main!(benches);
