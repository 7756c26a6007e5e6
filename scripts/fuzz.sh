#!/usr/bin/env bash
# Coverage-guided fuzzing of every parser of network bytes (targets in fuzz/fuzz_targets, their
# checks in fuzz/checks), with cargo-fuzz and libFuzzer on the nightly toolchain.
#   scripts/fuzz.sh [SECONDS]   run each target SECONDS (default 60), FUZZ_JOBS (default 2) at a
#                               time, then print target | seconds | runs | coverage | crashes
#   scripts/fuzz.sh --cmin      minimise every stored corpus (fuzz/corpus/<target>) in place
#   scripts/fuzz.sh --merge     fold what earlier runs found (fuzz/target/fuzz-work) into the
#                               stored corpus, keeping a minimal set that covers both
# FUZZ_TARGETS="amf0 amf3" limits the run to those targets. Without a nightly toolchain the stored
# corpus is replayed as plain tests instead (tests/fuzz_corpus.rs, which scripts/test.sh runs too).
# New inputs go to fuzz/target/fuzz-work/<target>, not to the stored corpus; findings to
# fuzz/artifacts/<target>/, logs to fuzz/target/fuzz-logs/<target>.log, the table also to
# fuzz/target/fuzz-logs/table.md.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  echo "fuzz.sh: no nightly toolchain (rustup toolchain install nightly); libFuzzer needs it." >&2
  echo "fuzz.sh: replaying the stored corpus as plain tests instead." >&2
  exec cargo test --test fuzz_corpus
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz.sh: installing cargo-fuzz" >&2
  cargo install cargo-fuzz --locked
fi

targets=${FUZZ_TARGETS:-$(cargo +nightly fuzz list)}

if [ "${1:-}" = "--cmin" ]; then
  for t in $targets; do
    cargo +nightly fuzz cmin "$t" "fuzz/corpus/$t"
  done
  exit 0
fi

if [ "${1:-}" = "--merge" ]; then
  cargo +nightly fuzz build
  bin=fuzz/target/$(rustc -vV | sed -n 's/^host: //p')/release
  for t in $targets; do
    merged=fuzz/target/fuzz-merged/$t
    rm -rf "$merged" && mkdir -p "$merged" "fuzz/target/fuzz-work/$t"
    "$bin/$t" -merge=1 "$merged" "fuzz/corpus/$t" "fuzz/target/fuzz-work/$t" 2>&1 | grep MERGE-OUTER || true
    rm -rf "fuzz/corpus/$t" && mv "$merged" "fuzz/corpus/$t"
  done
  du -sh fuzz/corpus
  exit 0
fi

seconds=${1:-60}
jobs=${FUZZ_JOBS:-2}
cargo +nightly fuzz build
bin=fuzz/target/$(rustc -vV | sed -n 's/^host: //p')/release
logs=fuzz/target/fuzz-logs
mkdir -p "$logs"

run_target() {
  local t=$1
  mkdir -p "fuzz/target/fuzz-work/$t" "fuzz/artifacts/$t"
  # -malloc_limit_mb: any single allocation past it is a finding (inputs are a few KiB; the
  # largest documented reservation is the chunk reader's 64 KiB). -timeout: a hang is a finding.
  "$bin/$t" "fuzz/target/fuzz-work/$t" "fuzz/corpus/$t" \
    -artifact_prefix="fuzz/artifacts/$t/" -max_total_time="$seconds" -timeout=10 \
    -rss_limit_mb=2048 -malloc_limit_mb=64 -print_final_stats=1 >"$logs/$t.log" 2>&1 || true
}

for t in $targets; do
  find "fuzz/artifacts/$t" -type f -delete 2>/dev/null || true
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
  echo "fuzz.sh: $t for ${seconds}s" >&2
  run_target "$t" &
done
wait

{
  echo "| target | seconds | runs | coverage | crashes |"
  echo "|---|---:|---:|---:|---:|"
  for t in $targets; do
    log=$logs/$t.log
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    crashes=$(find "fuzz/artifacts/$t" -type f | wc -l)
    echo "| $t | $seconds | ${runs:-?} | ${cov:-?} | $crashes |"
  done
} | tee "$logs/table.md"
if find fuzz/artifacts -type f | grep -q .; then
  echo "fuzz.sh: findings in fuzz/artifacts (reproduce: cargo +nightly fuzz run TARGET FILE)" >&2
  exit 1
fi
