#!/usr/bin/env bash
# Quick fan-out measurement without joy4-bench (scripts/bench.sh is the full one): one looped
# H.264/AAC publisher (ffmpeg), N HTTP-FLV players (curl, discarding the body) on loopback, T seconds.
# Prints server CPU, RSS and bytes/s.
#   scripts/measure-fanout.sh [N=100] [T=20]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-100}
T=${2:-20}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$work"' EXIT

cargo build --release --quiet --bin joy4
clip="$work/clip.flv"
ffmpeg -hide_banner -loglevel error -f lavfi -i testsrc2=size=640x360:rate=25 \
  -f lavfi -i sine=frequency=440:sample_rate=44100 -ac 2 -t 20 \
  -c:v libx264 -preset veryfast -g 50 -keyint_min 50 -sc_threshold 0 -b:v 900k \
  -c:a aac -b:a 64k -f flv "$clip"

./target/release/joy4 -rtmp=127.0.0.1:0 -http=127.0.0.1:0 -httpapi=127.0.0.1:0 -loglevel=warn \
  >"$work/listen.txt" 2>"$work/server.log" &
server=$!
for _ in $(seq 50); do grep -q httpapi "$work/listen.txt" && break; sleep 0.1; done
rtmp=$(awk '$2=="rtmp"{print $3}' "$work/listen.txt")
http=$(awk '$2=="http"{print $3}' "$work/listen.txt")

ffmpeg -hide_banner -loglevel error -re -stream_loop -1 -i "$clip" -c copy -f flv "rtmp://$rtmp/bench" &
sleep 3
for i in $(seq "$N"); do
  curl -s -o /dev/null -w '%{size_download}\n' --max-time "$T" "http://$http/bench.flv" >>"$work/sizes.txt" &
done
sleep 2
ticks=$(getconf CLK_TCK)
cpu0=$(awk '{print $14+$15}' "/proc/$server/stat")
start=$(date +%s.%N)
sleep $((T - 4))
cpu1=$(awk '{print $14+$15}' "/proc/$server/stat")
end=$(date +%s.%N)
rss=$(awk '/VmRSS/{print $2}' "/proc/$server/status")
threads=$(awk '/Threads/{print $2}' "/proc/$server/status")
wait $(jobs -p | tail -n "$N") 2>/dev/null || true
awk -v n="$N" -v t="$T" -v c0="$cpu0" -v c1="$cpu1" -v s="$start" -v e="$end" -v hz="$ticks" \
    -v rss="$rss" -v th="$threads" '
  { total += $1; if (min == "" || $1 < min) min = $1 }
  END {
    secs = e - s; cpu = (c1 - c0) / hz
    printf "players %d, %d s: server CPU %.1f%% of one core, %.0f us per player-second\n", n, t, 100*cpu/secs, 1e6*cpu/(n*secs)
    printf "server RSS %d KiB, threads %d\n", rss, th
    printf "received: total %.1f MB, per player min %.0f kB, mean %.0f kB (%.0f kbit/s each)\n", total/1e6, min/1e3, total/n/1e3, 8*total/n/t/1e3
  }' "$work/sizes.txt"
