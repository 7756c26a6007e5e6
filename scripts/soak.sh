#!/usr/bin/env bash
# The churn soak: 10,000 short connections of every kind (RTMP players and publishers leaving with
# FIN or RST, HTTP-FLV players, API calls, connections that leave mid-handshake or mid-request)
# against one joy4 with a steady ffmpeg publisher and a callback receiver; then threads, open
# descriptors and RSS must be back at the baseline, /stat/streams as before, and every stream that
# got streamConnected must have got exactly one streamClose. The driver is tests/soak.rs (an
# ignored test, built in release mode).
#
#   scripts/soak.sh [--cycles N] [--rate N] [--workers N]
#
# --rate N paces the churn at N cycles a second (all workers together); without it, flat out.
set -euo pipefail
cd "$(dirname "$0")/.."

cycles=10000 rate="" workers=8
while [ $# -gt 0 ]; do
  case "$1" in
    --cycles) cycles="$2"; shift 2 ;;
    --rate) rate="$2"; shift 2 ;;
    --workers) workers="$2"; shift 2 ;;
    --cycles=*) cycles="${1#*=}"; shift ;;
    --rate=*) rate="${1#*=}"; shift ;;
    --workers=*) workers="${1#*=}"; shift ;;
    *) echo "usage: $0 [--cycles N] [--rate N] [--workers N]" >&2; exit 2 ;;
  esac
done

if ! command -v ffmpeg >/dev/null; then
  echo "soak: ffmpeg is needed (the steady publisher); install it: apt-get install ffmpeg" >&2
  exit 1
fi

export SOAK_CYCLES="$cycles" SOAK_WORKERS="$workers"
if [ -n "$rate" ]; then export SOAK_RATE="$rate"; else unset SOAK_RATE; fi
exec cargo test --release --test soak -- --ignored --nocapture --test-threads=1
