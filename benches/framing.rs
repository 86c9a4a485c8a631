//! ns per frame for the framers, on the input they see most: many short
//! lines arriving in one read (`mesg`, with the telnet filter in front, as
//! the server runs it), and 200-byte fixed frames (`channels`).
//!
//! Run with `cargo bench --bench framing`. Each benchmark frames a whole
//! buffer; criterion reports time per frame (elements = frames).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use pollchat::framing::fixed::FixedFramer;
use pollchat::framing::length::LengthFramer;
use pollchat::framing::line::LineFramer;
use pollchat::framing::telnet::TelnetFilter;
use pollchat::framing::{Frame, Framer};
use std::hint::black_box;
use std::time::Duration;

/// Frames in each benchmark's input: about what one 64 KiB read holds.
const FRAMES: usize = 800;

/// A broadcast line as a client sends it, with a payload of `size` bytes.
fn line(size: usize) -> Vec<u8> {
    let mut l = b"BCST ".to_vec();
    l.extend(std::iter::repeat_n(b'x', size));
    l.extend_from_slice(b"\r\n");
    l
}

/// Frames everything in `input`; returns the number of frames.
fn frame_all<F: Framer>(framer: &mut F, input: &[u8]) -> usize {
    let mut pos = 0;
    let mut frames = 0;
    loop {
        let (used, frame) = framer.next_frame(&input[pos..]);
        pos += used;
        match frame {
            Some(Frame::Data(d)) => {
                black_box(d);
                frames += 1;
            }
            Some(Frame::TooLong) => frames += 1,
            None => return frames,
        }
    }
}

fn lines(c: &mut Criterion) {
    let mut group = c.benchmark_group("line");
    group.throughput(Throughput::Elements(FRAMES as u64));
    for size in [16, 64, 512] {
        let input = line(size).repeat(FRAMES);
        group.bench_with_input(BenchmarkId::new("framer", size), &input, |b, input| {
            b.iter(|| frame_all(&mut LineFramer::new(4096), input))
        });
        // What the mesg dialect does per read: strip telnet commands (there
        // are none, the usual case), then frame.
        group.bench_with_input(
            BenchmarkId::new("telnet+framer", size),
            &input,
            |b, input| {
                let mut work = input.clone();
                let mut reply = Vec::new();
                b.iter(|| {
                    work.copy_from_slice(input);
                    let n = TelnetFilter::new().filter(&mut work, &mut reply);
                    frame_all(&mut LineFramer::new(4096), &work[..n])
                })
            },
        );
    }
    group.finish();
}

fn fixed_and_length(c: &mut Criterion) {
    let mut group = c.benchmark_group("binary");
    group.throughput(Throughput::Elements(FRAMES as u64));
    let fixed = vec![b'x'; 200 * FRAMES];
    group.bench_function("fixed200", |b| {
        b.iter(|| frame_all(&mut FixedFramer::new(200), &fixed))
    });
    let mut packet = vec![0x03, 0, 0, 0, 64];
    packet.extend(std::iter::repeat_n(b'x', 64));
    let packets = packet.repeat(FRAMES);
    group.bench_function("length64", |b| {
        b.iter(|| frame_all(&mut LengthFramer::new(70_000), &packets))
    });
    group.finish();
}

fn config() -> Criterion {
    // Short runs: the whole `cargo bench` must fit in a few minutes on a
    // shared two-core machine, and these numbers are steady well before.
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30)
}

criterion_group! {
    name = benches;
    config = config();
    targets = lines, fixed_and_length
}
criterion_main!(benches);
