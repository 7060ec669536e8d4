//! The CPU path alone: parse a response body, flatten it, encode the rows.
//! This is the floor that whole-process CPU per row is compared against in
//! `benches/loopback.rs` (`bench/run.sh`).

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use yuju_export::api::classify::classify_body;
use yuju_export::output::encoder;
use yuju_export::output::Format;
use yuju_export::record::chat::encode_customer;
use yuju_export::record::Column;
use yuju_export::simulator::data::{success_body, DataProfile};

fn bench(c: &mut Criterion) {
    let cases = [
        (
            "large_2000x600B",
            DataProfile::Fixed {
                messages: 2000,
                bytes: 600,
            },
        ),
        (
            "typical_5x80B",
            DataProfile::Fixed {
                messages: 5,
                bytes: 80,
            },
        ),
    ];
    for (name, profile) in cases {
        let body = success_body("bench-customer", &profile, 0).into_bytes();
        let rows = match &profile {
            DataProfile::Fixed { messages, .. } => *messages as u64,
            DataProfile::Varied => unreachable!(),
        };
        for format in [Format::Csv, Format::Jsonl] {
            let enc = encoder(format, &Column::ALL, Default::default());
            let mut group = c.benchmark_group(format!("{name}/{format:?}"));
            group.throughput(Throughput::Elements(rows));
            group.bench_function("parse+flatten+encode", |b| {
                b.iter_batched_ref(
                    || Vec::with_capacity(body.len() * 2),
                    |out| {
                        let env = classify_body(&body, &yuju_export::api::CodePolicy::default())
                            .expect("a valid body");
                        encode_customer(&*enc, "bench-customer", &env, out)
                    },
                    BatchSize::SmallInput,
                )
            });
            group.finish();
        }
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
