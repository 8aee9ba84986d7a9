//! Times the lossless rotation of a JPEG: ours against libjpeg-turbo's transform.
//!
//! `cargo run --release -p imagegraph-imaging --example lossless_bench -- IMAGE.jpg [REPS] [DEGREES] [ours]`
//!
//! With `ours`, libjpeg-turbo's transform is not run (for profiling ours alone).
//!
//! Prints the best-of-REPS wall time of each, and the CPU time of ours per run
//! (all threads; set `RAYON_NUM_THREADS=1` for one core). `jpeg_paths_bench`
//! writes the 4000 x 3000 photo-like JPEG `scripts/edit_compare.py` uses.

use std::time::Instant;

use imagegraph_imaging::edit::EditInstruction as E;
use imagegraph_imaging::{UploadLimits, lossless_transform};

const LIMITS: UploadLimits = UploadLimits {
    max_bytes: 64 << 20,
    max_pixels: 50_000_000,
    max_side: 65_535,
    max_aspect_ratio: 1000,
};

/// CPU time of the whole process (every thread), in ms.
fn cpu_ms() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("Linux");
    // utime and stime are fields 14 and 15, after the parenthesised name.
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap()
        .split_whitespace()
        .collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks * 10.0
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let path = args.get(1).expect("IMAGE.jpg");
    let reps: usize = args.get(2).map_or(20, |r| r.parse().expect("REPS"));
    let degrees: u16 = args.get(3).map_or(270, |d| d.parse().expect("DEGREES"));
    let bytes = std::fs::read(path).expect("readable");
    let list = [E::Rotate(degrees)];
    let op = match degrees {
        90 => turbojpeg::TransformOp::Rot90,
        180 => turbojpeg::TransformOp::Rot180,
        _ => turbojpeg::TransformOp::Rot270,
    };
    let mut best = [f64::INFINITY; 2];
    let mut cpu = 0.0;
    for _ in 0..reps {
        let (start, start_cpu) = (Instant::now(), cpu_ms());
        let out = lossless_transform(&bytes, LIMITS, &list).unwrap();
        std::hint::black_box(out.expect("lossless"));
        best[0] = best[0].min(start.elapsed().as_secs_f64() * 1e3);
        cpu += cpu_ms() - start_cpu;
        if args.get(4).is_some_and(|a| a == "ours") {
            continue;
        }
        let start = Instant::now();
        let mut transform = turbojpeg::Transform::op(op);
        transform.perfect = true;
        transform.copy_none = true;
        std::hint::black_box(turbojpeg::transform(&transform, &bytes).unwrap());
        best[1] = best[1].min(start.elapsed().as_secs_f64() * 1e3);
    }
    println!(
        "rotate {degrees}: ours {:.1} ms (CPU {:.1} ms per run), libjpeg-turbo's transform {:.1} ms, x{:.2}",
        best[0],
        cpu / reps as f64,
        best[1],
        best[1] / best[0]
    );
}
