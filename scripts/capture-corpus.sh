#!/usr/bin/env bash
# Record what real clients send to joy4 (and what joy4 answers) and turn it into fuzz seeds under
# fuzz/corpus/<target>/. A recording proxy (scripts/capture_corpus.py) sits between each client and
# joy4 on 127.0.0.1: ffmpeg publishes and plays, rtmpdump (librtmp) plays, GStreamer's rtmp2sink
# publishes and rtmp2src plays (when gst-launch-1.0 is installed), curl reads HTTP-FLV.
# Seeds are added beside the stored ones (hand-written seeds for what no client sends, such as AMF3,
# Enhanced RTMP headers and API bodies, are checked in as they are). Minimise afterwards with
# `scripts/fuzz.sh --cmin`.
#   scripts/capture-corpus.sh
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

cargo build --bin joy4
base=$((20000 + RANDOM % 20000))
rtmp=$base http=$((base + 1)) api=$((base + 2)) rtmp_proxy=$((base + 3)) http_proxy=$((base + 4))
target/debug/joy4 -rtmp=127.0.0.1:$rtmp -http=127.0.0.1:$http -httpapi=127.0.0.1:$api \
  -loglevel=warn >"$work/joy4.log" 2>&1 &
pids+=($!)
mkdir -p "$work/raw"
python3 scripts/capture_corpus.py proxy $rtmp_proxy $rtmp "$work/raw" & pids+=($!)
python3 scripts/capture_corpus.py proxy $http_proxy $http "$work/raw" & pids+=($!)
sleep 1

label() { echo "$1" >"$work/raw/label"; }
clip=(-re -f lavfi -i "testsrc=size=160x120:rate=15" -f lavfi -i "sine=frequency=440:sample_rate=44100"
      -c:v libx264 -preset ultrafast -tune zerolatency -g 15 -c:a aac -b:a 32k)
via=rtmp://127.0.0.1:$rtmp_proxy

label ffmpeg-publish
timeout 10 ffmpeg -loglevel error "${clip[@]}" -t 2 -f flv "$via/live/captured" || true

# A steady stream, published straight to joy4, for the players.
ffmpeg -loglevel error "${clip[@]}" -t 20 -f flv "rtmp://127.0.0.1:$rtmp/live/steady" &
pids+=($!)
sleep 2
label ffmpeg-play
timeout 10 ffmpeg -loglevel error -i "$via/live/steady" -t 1 -f null - || true
label rtmpdump-play
timeout 5 rtmpdump -q -r "$via/live/steady" --live --stop 1 -o /dev/null || true
label httpflv
timeout 3 curl -s --max-time 1 "http://127.0.0.1:$http_proxy/live/steady.flv" -o /dev/null || true
if command -v gst-launch-1.0 >/dev/null 2>&1; then
  label gst-publish
  timeout 10 gst-launch-1.0 -q videotestsrc num-buffers=30 ! video/x-raw,width=160,height=120 \
    ! x264enc tune=zerolatency key-int-max=15 ! h264parse ! flvmux streamable=true \
    ! rtmp2sink location="$via/live/gst" || true
  label gst-play
  timeout 4 gst-launch-1.0 -q rtmp2src location="$via/live/steady" ! fakesink || true
else
  echo "capture-corpus: gst-launch-1.0 not installed; GStreamer sessions skipped" >&2
fi
sleep 1
ls -l "$work/raw"
python3 scripts/capture_corpus.py split "$work/raw" fuzz/corpus
