//! Timing driver for `scripts/edit_compare.py`.
//!
//! `edit_bench ops IMAGE.jpg REPS` prints JSON `{"name": best_ms, ...}` for
//! each operation on decoded pixels and for decode + op + JPEG q90 encode.
//! `edit_bench once IMAGE.jpg OP` runs one end-to-end edit (for peak-memory
//! measurement) and prints the output size and the process's peak RSS.

use std::time::Instant;

use imagegraph_imaging::edit::{EditInstruction as E, Fit, apply, decode, encode_jpeg};

fn ops() -> Vec<(&'static str, E)> {
    vec![
        ("brightness", E::Brightness(1.2)),
        ("contrast", E::Contrast(1.2)),
        ("saturation", E::Saturation(1.3)),
        ("sharpness", E::Sharpness(2.0)),
        ("blur", E::Blur { sigma: 2.0 }),
        (
            "resize",
            E::Resize {
                width: Some(400),
                height: None,
                fit: Fit::Contain,
            },
        ),
        ("grayscale", E::Grayscale),
        ("rotate", E::Rotate(90)),
    ]
}

fn best_ms(reps: usize, mut run: impl FnMut() -> f64) -> f64 {
    (0..reps).map(|_| run()).fold(f64::INFINITY, f64::min)
}

fn end_to_end(bytes: &[u8], op: E) -> Vec<u8> {
    let img = decode(bytes).expect("decodable JPEG");
    let out = apply(img, &[op]).expect("fits").into_rgb8();
    encode_jpeg(&out, 90).expect("encodable")
}

/// Linux `VmHWM` (peak resident set) in MiB; 0 where unavailable.
fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let bytes = std::fs::read(&args[2]).expect("readable image");
    match args[1].as_str() {
        "once" => {
            let op = ops()
                .into_iter()
                .find(|(name, _)| *name == args[3])
                .expect("known op")
                .1;
            let len = end_to_end(&bytes, op).len();
            println!(
                "{{\"bytes\": {len}, \"peak_rss_mib\": {:.1}}}",
                peak_rss_mib()
            );
        }
        _ => {
            let reps: usize = args[3].parse().expect("repetition count");
            let img = decode(&bytes).expect("decodable JPEG");
            let mut results = vec![
                (
                    "decode".to_string(),
                    best_ms(reps, || {
                        let t = Instant::now();
                        std::hint::black_box(decode(&bytes).unwrap());
                        t.elapsed().as_secs_f64() * 1e3
                    }),
                ),
                (
                    "encode".to_string(),
                    best_ms(reps, || {
                        let rgb = img.to_rgb8();
                        let t = Instant::now();
                        std::hint::black_box(encode_jpeg(&rgb, 90).unwrap());
                        t.elapsed().as_secs_f64() * 1e3
                    }),
                ),
            ];
            for (name, op) in ops() {
                let ms = best_ms(reps, || {
                    let input = img.clone();
                    let t = Instant::now();
                    std::hint::black_box(apply(input, &[op]).expect("fits"));
                    t.elapsed().as_secs_f64() * 1e3
                });
                results.push((name.to_string(), ms));
            }
            for (name, op) in ops() {
                if !matches!(name, "brightness" | "sharpness" | "resize") {
                    continue;
                }
                let ms = best_ms(reps, || {
                    let t = Instant::now();
                    std::hint::black_box(end_to_end(&bytes, op));
                    t.elapsed().as_secs_f64() * 1e3
                });
                results.push((format!("e2e_{name}"), ms));
            }
            let body: Vec<String> = results
                .iter()
                .map(|(k, v)| format!("\"{k}\": {v:.2}"))
                .collect();
            println!("{{{}}}", body.join(", "));
        }
    }
}
