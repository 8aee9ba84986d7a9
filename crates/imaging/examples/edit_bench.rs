//! Timing driver for `scripts/edit_compare.py`.
//!
//! `edit_bench ops IMAGE.jpg REPS` prints JSON `{"name": best_ms, ...}` for
//! decoding, encoding and each operation on decoded pixels, and for whole requests
//! (`e2e_*`: JPEG bytes in, JPEG q90 bytes out) taken the way the service takes
//! them: an upload's thumbnail through `prepare_upload`, a leading resize through
//! shrink-on-load, a rotation through the lossless transform where the JPEG allows
//! it, brightness and saturation streamed in strips (`stream_jpeg`), everything
//! else decoded in full.
//! `edit_bench lossless IMAGE.jpg REPS` prints JSON `{"ours": best_ms,
//! "libjpeg_turbo": best_ms}` for the lossless quarter turn anticlockwise alone
//! (JPEG bytes in and out, no thumbnail): ours (`lossless_transform`), and
//! libjpeg-turbo's transform as `jpegtran -rotate 270 -perfect -copy none` runs it.
//! `edit_bench once IMAGE.jpg NAME` runs one whole request (for peak-memory
//! measurement) and prints the output size and the process's peak RSS.
//! With `EDIT_BENCH_CPU` set, times are the process's CPU time instead of wall
//! time.
//! `edit_bench op IMAGE.jpg NAME REPS` times one operation (or `e2e_NAME`) alone,
//! for profiling a change to it; `decode` (as the service decodes: libjpeg-turbo,
//! zune-jpeg for what it does not decode cleanly), `decode_turbo` (the turbojpeg
//! crate's whole-image decode alone) and `encode` are names too, and
//! `stored_brightness` (`_decoded`): a brightness edit with its thumbnail, as the
//! service stores it, streamed (or through the whole-image path).

use std::time::Instant;

use imagegraph_imaging::edit::{self, EditInstruction as E, Fit, encode_jpeg};
use imagegraph_imaging::{
    MediaFormat, UploadLimits, decode, decode_at_least, encode, lossless_edit, lossless_transform,
    prepare_upload, probe, render_thumbnail, stream_edit, stream_jpeg,
};

const LIMITS: UploadLimits = UploadLimits {
    max_bytes: 64 << 20,
    max_pixels: 50_000_000,
    max_side: 65_535,
    max_aspect_ratio: 1000,
};

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

/// The whole requests, by the names `scripts/edit_compare.py` gives them.
const END_TO_END: [&str; 6] = [
    "thumbnail",
    "brightness",
    "sharpness",
    "resize",
    "rotate",
    "rotate270",
];

fn end_to_end(bytes: &[u8], name: &str) -> Vec<u8> {
    if name == "thumbnail" {
        return prepare_upload(bytes, LIMITS).expect("uploadable").thumbnail;
    }
    let list = [match name {
        "rotate270" => E::Rotate(270),
        _ => {
            ops()
                .into_iter()
                .find(|(op, _)| *op == name)
                .expect("known op")
                .1
        }
    }];
    if let Some((out, _)) = lossless_edit(bytes, LIMITS, &list).expect("valid") {
        return out;
    }
    if let Ok(out) = stream_jpeg(bytes, LIMITS, &list, 90) {
        return out;
    }
    let probe = probe(bytes, LIMITS).expect("a readable header");
    let out = match edit::shrink_on_load(probe.width, probe.height, &list, None) {
        Some(plan) => {
            let (_, image) =
                decode_at_least(bytes, LIMITS, plan.min_width, plan.min_height).expect("decodable");
            edit::apply(image, &plan.instructions).expect("fits")
        }
        None => edit::apply(decode(bytes, LIMITS).expect("decodable").1, &list).expect("fits"),
    };
    encode(&out, MediaFormat::Jpeg, 90).expect("encodable")
}

fn best_ms(reps: usize, mut run: impl FnMut() -> f64) -> f64 {
    (0..reps).map(|_| run()).fold(f64::INFINITY, f64::min)
}

fn timed(run: impl FnOnce()) -> f64 {
    if std::env::var_os("EDIT_BENCH_CPU").is_some() {
        let start = cpu_ms();
        run();
        return cpu_ms() - start;
    }
    let t = Instant::now();
    run();
    t.elapsed().as_secs_f64() * 1e3
}

/// CPU time (user and system, page faults included) of every thread of this
/// process, from Linux's per-thread `schedstat` (nanoseconds): on a shared
/// machine it leaves out the time other processes hold the cores, which wall
/// time does not. Chosen with `EDIT_BENCH_CPU=1` (`edit_compare.py --cpu`).
fn cpu_ms() -> f64 {
    let tasks = std::fs::read_dir("/proc/self/task").expect("Linux /proc");
    let ns: u64 = tasks
        .filter_map(|task| {
            let stat = std::fs::read_to_string(task.ok()?.path().join("schedstat")).ok()?;
            stat.split_whitespace().next()?.parse::<u64>().ok()
        })
        .sum();
    ns as f64 / 1e6
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
        "lossless" => {
            let reps: usize = args[3].parse().expect("repetition count");
            let list = [E::Rotate(270)];
            let ours = best_ms(reps, || {
                timed(|| {
                    let out = lossless_transform(&bytes, LIMITS, &list).expect("valid");
                    std::hint::black_box(out.expect("a lossless turn"));
                })
            });
            let libjpeg_turbo = best_ms(reps, || {
                timed(|| {
                    let mut transform = turbojpeg::Transform::op(turbojpeg::TransformOp::Rot270);
                    transform.perfect = true;
                    transform.copy_none = true;
                    std::hint::black_box(turbojpeg::transform(&transform, &bytes).unwrap());
                })
            });
            println!("{{\"ours\": {ours:.2}, \"libjpeg_turbo\": {libjpeg_turbo:.2}}}");
        }
        "once" => {
            let len = end_to_end(&bytes, &args[3]).len();
            println!(
                "{{\"bytes\": {len}, \"peak_rss_mib\": {:.1}}}",
                peak_rss_mib()
            );
        }
        "op" => {
            let reps: usize = args[4].parse().expect("repetition count");
            let name = args[3].as_str();
            let (_, img) = decode(&bytes, LIMITS).expect("decodable JPEG");
            let rgb = img.to_rgb8();
            let ms = if name == "decode" {
                best_ms(reps, || {
                    timed(|| {
                        std::hint::black_box(decode(&bytes, LIMITS).unwrap());
                    })
                })
            } else if name == "decode_turbo" {
                best_ms(reps, || {
                    timed(|| {
                        std::hint::black_box(
                            turbojpeg::decompress(&bytes, turbojpeg::PixelFormat::RGB).unwrap(),
                        );
                    })
                })
            } else if name == "encode" {
                best_ms(reps, || {
                    timed(|| {
                        std::hint::black_box(encode_jpeg(&rgb, 90).unwrap());
                    })
                })
            } else if name == "stored_brightness" || name == "stored_brightness_decoded" {
                // As the service stores an edit: the result and its thumbnail,
                // streamed or (`_decoded`) through the whole-image path.
                let list = [E::Brightness(1.2)];
                best_ms(reps, || {
                    timed(|| {
                        if name == "stored_brightness" {
                            std::hint::black_box(
                                stream_edit(&bytes, LIMITS, &list, 90).unwrap().unwrap(),
                            );
                        } else {
                            let out =
                                edit::apply(decode(&bytes, LIMITS).unwrap().1, &list).unwrap();
                            std::hint::black_box(encode(&out, MediaFormat::Jpeg, 90).unwrap());
                            std::hint::black_box(render_thumbnail(&out).unwrap());
                        }
                    })
                })
            } else if let Some(e2e) = name.strip_prefix("e2e_") {
                best_ms(reps, || {
                    timed(|| {
                        std::hint::black_box(end_to_end(&bytes, e2e));
                    })
                })
            } else {
                let op = ops()
                    .into_iter()
                    .find(|(op, _)| *op == name)
                    .expect("known op")
                    .1;
                best_ms(reps, || {
                    let input = img.clone();
                    timed(|| {
                        std::hint::black_box(edit::apply(input, &[op]).expect("fits"));
                    })
                })
            };
            println!("{{\"{name}\": {ms:.2}}}");
        }
        _ => {
            let reps: usize = args[3].parse().expect("repetition count");
            let (_, img) = decode(&bytes, LIMITS).expect("decodable JPEG");
            let rgb = img.to_rgb8();
            let mut results = vec![
                (
                    "decode".to_string(),
                    best_ms(reps, || {
                        timed(|| {
                            std::hint::black_box(decode(&bytes, LIMITS).unwrap());
                        })
                    }),
                ),
                (
                    "encode".to_string(),
                    best_ms(reps, || {
                        timed(|| {
                            std::hint::black_box(encode_jpeg(&rgb, 90).unwrap());
                        })
                    }),
                ),
            ];
            for (name, op) in ops() {
                let ms = best_ms(reps, || {
                    let input = img.clone();
                    timed(|| {
                        std::hint::black_box(edit::apply(input, &[op]).expect("fits"));
                    })
                });
                results.push((name.to_string(), ms));
            }
            for name in END_TO_END {
                let ms = best_ms(reps, || {
                    timed(|| {
                        std::hint::black_box(end_to_end(&bytes, name));
                    })
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
