#!/usr/bin/env bash
# Runs every cargo-fuzz target for a bounded time and fails on the first crash.
#
#     scripts/fuzz.sh            # 60 s per target (what CI runs)
#     scripts/fuzz.sh 600        # longer
#     scripts/fuzz.sh 60 cursor  # one target
#
# Targets live in fuzz/fuzz_targets; seeds in fuzz/seeds/<target>; what the fuzzer
# learns goes to fuzz/corpus/<target> and crashes to fuzz/artifacts/<target> (both
# git-ignored). Reproduce a crash with `cargo +nightly fuzz run <target> <file>`.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-60}"
only="${2:-}"
targets=(decode_image base64_upload cursor edit_instructions edit_budget stream_jpeg lossless_jpeg)

if ! cargo fuzz --help >/dev/null 2>&1; then
  echo "fuzz: installing cargo-fuzz" >&2
  cargo install --locked cargo-fuzz --version 0.13.2
fi

# cargo-fuzz needs nightly flags; without a nightly toolchain, stable is told to
# accept them.
toolchain=()
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  toolchain=(+nightly)
else
  export RUSTC_BOOTSTRAP=1
fi

for target in "${targets[@]}"; do
  [ -z "$only" ] || [ "$only" = "$target" ] || continue
  echo "fuzz: $target for ${seconds}s" >&2
  mkdir -p "fuzz/corpus/$target"
  # Safe Rust needs no AddressSanitizer: a panic is the crash we look for.
  cargo "${toolchain[@]}" fuzz run --sanitizer none "$target" \
    "fuzz/corpus/$target" "fuzz/seeds/$target" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
done
