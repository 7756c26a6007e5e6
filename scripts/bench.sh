#!/usr/bin/env bash
# joy4 against nginx-rtmp, side by side, on this machine: the same ~1 Mbit/s H.264/AAC stream (2 s GOP)
# and the same subscriber load, one server after the other in one run. Prints a table and keeps the JSON.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
  cat <<'EOF'
Usage: scripts/bench.sh [--quick | --curve | --scale | --record] [--with-2000] [--with-5000] [--with-10000]
                        [--channels K] [--storm] [--mergewrite DUR] [--duration SECONDS]
                        [--readers LIST] [--rcvlowat BYTES] [--results DIR]

Runs joy4-bench against joy4 (RTMP and HTTP-FLV) and nginx-rtmp (RTMP; it has no HTTP-FLV) at
N = 200 and 1000 subscribers on loopback (--curve: N = 5 to 1000), then 100 HLS viewers of joy4
(joy4-bench hls), each server freshly started for each case, and prints a side-by-side table:
server CPU µs per subscriber-second (and its ratio to nginx-rtmp's RTMP figure at the same N and
readers), RSS growth per subscriber, min/median share of the stream's bitrate, server-added
latency p50/p99, time to the first keyframe (median/max over subscribers), failed or dropped
subscribers, and the bench's own CPU. Then it checks every joy4 row against nginx-rtmp's
RTMP row with the same N and readers and prints met / NOT MET for each target:
  RSS growth   <= 16 KiB per subscriber from N = 1000
  share        min >= 95 %, and no subscriber failed or disconnected
  CPU          N >= 1000: <= 0.35x nginx-rtmp's with player readers, <= 0.45x with lowat readers;
               200 <= N < 1000: <= 0.5x; N < 200: no target (small audiences get a write per
               message, as nginx-rtmp does)
  latency p99  N <= 20: <= nginx-rtmp's p99 at the same N and readers + 20 ms; N >= 200: <= the
               merge window + 30 ms; 20 < N < 200: no target (the merge window grows with the
               audience there)

Two kinds of subscribers ("readers"), each a full set of runs:
  player  every subscriber is woken for every write that reaches it, as ffplay, VLC, OBS or a
          browser are (none sets SO_RCVLOWAT); every subscriber is also a latency probe
  lowat   50 latency probes as above; the others set SO_RCVLOWAT 16 KiB after their first
          keyframe, so the kernel wakes them only once 16 KiB are waiting (cheaper for the bench,
          and for a server that writes many small pieces)

  --quick           N = 50 (20 HLS viewers) and 8 s per case: a smoke test of the whole chain
                    (about a minute and a half)
  --curve           only the curve: N = 5, 20, 50, 200 and 1000, each with joy4 RTMP, joy4
                    HTTP-FLV and nginx-rtmp, player readers unless --readers says otherwise; no
                    HLS case. About 7 minutes (15 cases of ~27 s; --duration 5: about 3 minutes)
  --record          only recording (scripts/bench-record.sh): 100 channels of the clip published
                    with ffmpeg, each server without and with every channel recorded (joy4
                    -recordall, nginx-rtmp record all); extra CPU per recorded channel-second
                    and RSS per recording, side by side (about 3 minutes; RECORD_CHANNELS=N)
  --with-2000       also N = 2000 (in the default run or the curve)
  --with-5000       also 5,000 idle-ish joy4 subscribers (RTMP, then HTTP-FLV) of a synthetic
                    100 kbit/s stream, ramped at 250/s: they must all connect and keep reading
  --with-10000      also 10,000 viewers of one synthetic 100 kbit/s channel (2 s GOP), ramped at
                    500/s: joy4 RTMP, joy4 HTTP-FLV and nginx-rtmp, held to the N >= 1000 targets
  --channels K      also K channels at once, each a synthetic 1 Mbit/s publisher (2 s GOP) and two
                    viewers: joy4 RTMP, joy4 HTTP-FLV and nginx-rtmp, compared per channel (CPU
                    per channel-second <= 0.6x nginx-rtmp's, memory per channel <= nginx-rtmp's),
                    and joy4 RTMP with -buffergopcount=0 (no GOP kept, as nginx-rtmp keeps none;
                    labelled joy4-nogop)
  --storm           also a connection storm: 10,000 players at 2,000 connects a second against a
                    live 100 kbit/s channel, joy4 RTMP, joy4 HTTP-FLV and nginx-rtmp; joy4's API
                    (GET /stat) is polled every 100 ms through it and must answer within 50 ms
  --scale           only the scale cases: the idle footprint, --with-10000, --channels 200 and
                    --storm (about 12 minutes)
  --mergewrite DUR  pass -mergewrite=DUR to joy4 (default: joy4's own default)
  --duration S      measured seconds per case after the ramp (default 20; --quick: 8)
  --readers LIST    which readers, comma-separated: player, lowat, lowat=BYTES (default:
                    player,lowat)
  --rcvlowat BYTES  the same as --readers lowat=BYTES (0: --readers player)
  --results DIR     where the JSON, logs and table go (default target/bench/DATE-TIME)
  -h, --help        this text

Environment: JOY4_BIN=PATH benches that joy4 binary instead of this tree's (a build of another
commit, for before/after comparisons in one table format).

Installs what is missing with apt-get (nginx, libnginx-mod-rtmp, ffmpeg), builds joy4 and
joy4-bench in release mode, makes the test clip once (cached in target/bench), raises the open-file
limit as far as the hard limit allows, and stops every process it started when it ends.
A default run takes about 7 minutes (10 with --with-2000).
EOF
}

QUICK=0
CURVE=0
RECORD=0
READERS_GIVEN=0
WITH_2000=0
WITH_5000=0
WITH_10000=0
CHANNELS=0
STORM=0
SCALE=0
MERGEWRITE=""
DURATION=""
RESULTS=""
READERS="player,lowat"
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --quick) QUICK=1 ;;
    --curve) CURVE=1 ;;
    --record) RECORD=1 ;;
    --with-2000) WITH_2000=1 ;;
    --with-5000) WITH_5000=1 ;;
    --with-10000) WITH_10000=1 ;;
    --channels) CHANNELS=${2:?--channels needs a count}; shift ;;
    --channels=*) CHANNELS=${1#*=} ;;
    --storm) STORM=1 ;;
    --scale) SCALE=1 ;;
    --mergewrite) MERGEWRITE=${2:?--mergewrite needs a duration, e.g. 100ms}; shift ;;
    --mergewrite=*) MERGEWRITE=${1#*=} ;;
    --duration) DURATION=${2:?--duration needs seconds}; shift ;;
    --duration=*) DURATION=${1#*=} ;;
    --readers) READERS=${2:?--readers needs a list, e.g. player,lowat}; READERS_GIVEN=1; shift ;;
    --readers=*) READERS=${1#*=}; READERS_GIVEN=1 ;;
    --rcvlowat) READERS="lowat=${2:?--rcvlowat needs a byte count}"; READERS_GIVEN=1; shift ;;
    --rcvlowat=*) READERS="lowat=${1#*=}"; READERS_GIVEN=1 ;;
    --results) RESULTS=${2:?--results needs a directory}; shift ;;
    --results=*) RESULTS=${1#*=} ;;
    *) echo "bench.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
  esac
  shift
done

if [ $(( QUICK + CURVE + SCALE )) -gt 1 ]; then
  echo "bench.sh: --quick, --curve and --scale do not go together" >&2; exit 2
fi
case "$CHANNELS" in ''|*[!0-9]*) echo "bench.sh: --channels takes a count" >&2; exit 2 ;; esac
if [ "$SCALE" = 1 ]; then
  COUNTS=()
  HLS_VIEWERS=0
  WITH_10000=1
  STORM=1
  [ "$CHANNELS" = 0 ] && CHANNELS=200
  DURATION=${DURATION:-20}
elif [ "$QUICK" = 1 ]; then
  COUNTS=(50)
  HLS_VIEWERS=20
  DURATION=${DURATION:-8}
elif [ "$CURVE" = 1 ]; then
  # Small audiences (per-message writes) to large ones (merged writes); no HLS case.
  COUNTS=(5 20 50 200 1000)
  HLS_VIEWERS=0
  [ "$WITH_2000" = 1 ] && COUNTS+=(2000)
  [ "$READERS_GIVEN" = 1 ] || READERS=player
  DURATION=${DURATION:-20}
else
  COUNTS=(200 1000)
  HLS_VIEWERS=100
  [ "$WITH_2000" = 1 ] && COUNTS+=(2000)
  DURATION=${DURATION:-20}
fi
case "$DURATION" in ''|*[!0-9]*) echo "bench.sh: --duration takes whole seconds" >&2; exit 2 ;; esac
# Each readers model as the SO_RCVLOWAT the bench gives its non-probe subscribers (0 = player).
LOWATS=()
IFS=',' read -r -a READER_LIST <<<"$READERS"
for r in "${READER_LIST[@]}"; do
  case "$r" in
    player) LOWATS+=(0) ;;
    lowat) LOWATS+=(16384) ;;
    lowat=*)
      v=${r#lowat=}
      case "$v" in ''|*[!0-9]*) echo "bench.sh: lowat= takes a byte count" >&2; exit 2 ;; esac
      LOWATS+=("$v") ;;
    *) echo "bench.sh: unknown readers '$r' (player, lowat, lowat=BYTES)" >&2; exit 2 ;;
  esac
done
[ ${#LOWATS[@]} -gt 0 ] || { echo "bench.sh: --readers is empty" >&2; exit 2; }

# The merge window in ms, for the latency target from N = 200 (window + 30 ms); joy4's default is 100 ms.
case "${MERGEWRITE:-100ms}" in
  *ms) WINDOW_MS=${MERGEWRITE%ms} ;;
  *s) WINDOW_MS=$(( ${MERGEWRITE%s} * 1000 )) ;;
  *) WINDOW_MS=${MERGEWRITE:-100} ;;
esac
WINDOW_MS=${WINDOW_MS:-100}
case "$WINDOW_MS" in ''|*[!0-9]*) echo "bench.sh: --mergewrite takes a duration like 100ms or 1s" >&2; exit 2 ;; esac

log() { printf '%s bench.sh: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# ---------------------------------------------------------------------------------------------------
# Clean-up: every process this script starts is recorded here and stopped on exit.
# ---------------------------------------------------------------------------------------------------
PIDS=()
WORK=$(mktemp -d "${TMPDIR:-/tmp}/joy4-bench.XXXXXX")
POLICY_CREATED=0
cleanup() {
  local pid
  for pid in "${PIDS[@]+"${PIDS[@]}"}"; do
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  if [ "$POLICY_CREATED" = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

stop_pid() {
  local pid=$1
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# ---------------------------------------------------------------------------------------------------
# Tools: nginx with the RTMP module, ffmpeg (Debian packages), only when missing.
# ---------------------------------------------------------------------------------------------------
find_rtmp_module() {
  local p
  for p in /usr/lib/nginx/modules/ngx_rtmp_module.so /usr/share/nginx/modules/ngx_rtmp_module.so \
           /usr/lib64/nginx/modules/ngx_rtmp_module.so; do
    [ -f "$p" ] && { echo "$p"; return 0; }
  done
  if command -v dpkg >/dev/null 2>&1; then
    p=$(dpkg -L libnginx-mod-rtmp 2>/dev/null | grep '/ngx_rtmp_module\.so$' | head -n1 || true)
    [ -n "$p" ] && [ -f "$p" ] && { echo "$p"; return 0; }
  fi
  return 1
}

NGINX=$(command -v nginx || true)
[ -z "$NGINX" ] && [ -x /usr/sbin/nginx ] && NGINX=/usr/sbin/nginx
MODULE=$(find_rtmp_module || true)
MISSING=()
[ -z "$NGINX" ] && MISSING+=(nginx)
[ -z "$MODULE" ] && MISSING+=(libnginx-mod-rtmp)
command -v ffmpeg >/dev/null 2>&1 || MISSING+=(ffmpeg)
if [ ${#MISSING[@]} -gt 0 ]; then
  log "installing ${MISSING[*]} with apt-get"
  SUDO=()
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO=(sudo -E); else
      echo "bench.sh: need ${MISSING[*]}, and not root and no sudo to install them" >&2; exit 1
    fi
  fi
  # Keep Debian's nginx service from starting on port 80 during the install.
  if [ ! -e /usr/sbin/policy-rc.d ] && [ "$(id -u)" -eq 0 ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    POLICY_CREATED=1
  fi
  export DEBIAN_FRONTEND=noninteractive
  ${SUDO[@]+"${SUDO[@]}"} apt-get update
  ${SUDO[@]+"${SUDO[@]}"} apt-get install -y --no-install-recommends "${MISSING[@]}"
  NGINX=$(command -v nginx || echo /usr/sbin/nginx)
  MODULE=$(find_rtmp_module || true)
fi
[ -x "$NGINX" ] || { echo "bench.sh: nginx not found after installing" >&2; exit 1; }
[ -n "$MODULE" ] || { echo "bench.sh: ngx_rtmp_module.so not found after installing" >&2; exit 1; }

# As many open files as the hard limit allows (2000 subscribers + the publisher + the servers').
HARD=$(ulimit -Hn)
ulimit -n "$HARD" 2>/dev/null || true
SOFT=$(ulimit -n)
MOST=0
[ ${#COUNTS[@]} -gt 0 ] && MOST=${COUNTS[-1]}
if [ "$WITH_10000" = 1 ] || [ "$STORM" = 1 ]; then MOST=10000; fi
if [ "$SOFT" != unlimited ] && [ "$SOFT" -lt $(( MOST + 256 )) ]; then
  log "warning: open-file limit $SOFT (hard $HARD) is low for $MOST subscribers"
fi

# ---------------------------------------------------------------------------------------------------
# Build, clip, results directory.
# ---------------------------------------------------------------------------------------------------
log "building joy4 and joy4-bench (release)"
cargo build --release --quiet --bin joy4 --bin joy4-bench
JOY4=${JOY4_BIN:-$PWD/target/release/joy4}
BENCH=$PWD/target/release/joy4-bench
[ -x "$JOY4" ] || { echo "bench.sh: JOY4_BIN=$JOY4 is not an executable" >&2; exit 2; }
[ -n "${JOY4_BIN:-}" ] && log "benching the joy4 binary $JOY4 (JOY4_BIN)"

mkdir -p target/bench
CLIP=$PWD/target/bench/clip-1mbps-gop2s.flv
if [ ! -s "$CLIP" ]; then
  log "making the test clip (640x360 25 fps, ~1 Mbit/s H.264/AAC, 2 s GOP)"
  ffmpeg -hide_banner -loglevel error -y \
    -f lavfi -i testsrc2=size=640x360:rate=25 \
    -f lavfi -i sine=frequency=440:sample_rate=44100 -t 30 \
    -c:v libx264 -preset veryfast -pix_fmt yuv420p -g 50 -keyint_min 50 -sc_threshold 0 \
    -b:v 900k -maxrate 1M -bufsize 1M \
    -c:a aac -b:a 64k -ac 2 -f flv "$CLIP.tmp"
  mv "$CLIP.tmp" "$CLIP"
fi

RESULTS=${RESULTS:-target/bench/$(date +%Y%m%d-%H%M%S)}
mkdir -p "$RESULTS"
RESULTS=$(cd "$RESULTS" && pwd)

# A free loopback TCP port: nothing answers a connection to it, and it lies below the kernel's
# ephemeral range, so no client socket of this machine can be holding it.
free_port() {
  local port low
  low=$(awk '{print $1}' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
  [ "$low" -gt 11000 ] || low=32768
  for _ in $(seq 100); do
    port=$(( 10000 + RANDOM % (low - 10000) ))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then echo "$port"; return 0; fi
  done
  echo "bench.sh: no free port found" >&2
  return 1
}

wait_port() {
  local port=$1
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

# ---------------------------------------------------------------------------------------------------
# Servers: start one, fresh, per case. Each sets SERVER_PID, PUBLISH_URL and PLAY_RTMP/PLAY_HTTP.
# ---------------------------------------------------------------------------------------------------
start_joy4() {
  local name=$1 out="$WORK/joy4-$1.listen"
  shift
  local flags=(-rtmp=127.0.0.1:0 -http=127.0.0.1:0 -httpapi=127.0.0.1:0 -loglevel=warn "$@")
  [ -n "$MERGEWRITE" ] && flags+=("-mergewrite=$MERGEWRITE")
  "$JOY4" "${flags[@]}" >"$out" 2>"$RESULTS/$name.server.log" &
  SERVER_PID=$!
  PIDS+=("$SERVER_PID")
  for _ in $(seq 100); do grep -q '^listening httpapi ' "$out" 2>/dev/null && break; sleep 0.1; done
  grep -q '^listening httpapi ' "$out" || { echo "bench.sh: joy4 did not start (see $RESULTS/$name.server.log)" >&2; exit 1; }
  local rtmp http
  rtmp=$(awk '$1=="listening" && $2=="rtmp" {print $3}' "$out")
  http=$(awk '$1=="listening" && $2=="http" {print $3}' "$out")
  API=$(awk '$1=="listening" && $2=="httpapi" {print $3}' "$out")
  PUBLISH_URL="rtmp://$rtmp/live/bench"
  PLAY_RTMP="rtmp://$rtmp/live/bench"
  PLAY_HTTP="http://$http/live/bench.flv"
}

start_nginx() {
  local name=$1 dir="$WORK/nginx-$1" port
  port=$(free_port)
  mkdir -p "$dir/logs"
  local files=$SOFT
  [ "$files" = unlimited ] && files=65536
  cat >"$dir/nginx.conf" <<EOF
load_module $MODULE;
daemon off;
master_process off;
worker_processes 1;
worker_rlimit_nofile $files;
pid $dir/nginx.pid;
error_log $RESULTS/$name.server.log warn;
events { worker_connections $(( files > 16384 ? 16384 : files - 64 )); }
rtmp {
  server {
    listen 127.0.0.1:$port;
    chunk_size 4096;
    application live { live on; }
  }
}
EOF
  "$NGINX" -p "$dir" -c "$dir/nginx.conf" -e "$RESULTS/$name.server.log" &
  SERVER_PID=$!
  PIDS+=("$SERVER_PID")
  wait_port "$port" || { echo "bench.sh: nginx did not start (see $RESULTS/$name.server.log)" >&2; exit 1; }
  PUBLISH_URL="rtmp://127.0.0.1:$port/live/bench"
  PLAY_RTMP="rtmp://127.0.0.1:$port/live/bench"
  PLAY_HTTP=""
  API=""
}

# run_case SERVER PROTOCOL N LOWAT [SOURCE...]: SOURCE defaults to the looped clip at a 200/s ramp.
# CASE_TAG names a case's files apart (channels, storm); POLL_API=1 polls joy4's GET /stat.
FILES=()
CASE_TAG=""
POLL_API=0
run_case() {
  local server=$1 proto=$2 n=$3 lowat=$4
  shift 4
  local source=("$@")
  [ ${#source[@]} -gt 0 ] || source=(--input "$CLIP" --ramp 200)
  local readers=player
  [ "$lowat" != 0 ] && readers="lowat$lowat"
  local name="$server-$proto-$n-$readers$CASE_TAG"
  case "$server" in
    joy4) start_joy4 "$name" ;;
    # joy4 keeping no GOP, as nginx-rtmp does not: a viewer waits for the next keyframe.
    joy4-nogop) start_joy4 "$name" -buffergopcount=0 ;;
    nginx-rtmp) start_nginx "$name" ;;
  esac
  local play=$PLAY_RTMP
  [ "$proto" = http-flv ] && play=$PLAY_HTTP
  [ "$POLL_API" = 1 ] && [ -n "$API" ] && source+=(--poll "http://$API/stat")
  log "$server $proto N=$n readers=$readers: running (log: $RESULTS/$name.log)"
  if "$BENCH" --publish "$PUBLISH_URL" --play "$play" -n "$n" "${source[@]}" \
       --duration "${CASE_DURATION:-$DURATION}s" --warmup 3s --pid "$SERVER_PID" --rcvlowat "$lowat" \
       --label "$server" --json "$RESULTS/$name.json" >"$RESULTS/$name.txt" 2>"$RESULTS/$name.log"; then
    FILES+=("$RESULTS/$name.json")
    grep -E 'server pid|latency ms' "$RESULTS/$name.txt" | sed 's/^ */    /' >&2 || true
  else
    log "$server $proto N=$n readers=$readers: the bench failed: $(tail -n 1 "$RESULTS/$name.log")"
  fi
  stop_pid "$SERVER_PID"
}

# run_hls N [lowlatency]: joy4 with ffmpeg publishing the looped clip, and N HLS viewers
# (joy4-bench hls) polling the playlist and fetching each new segment, or with `lowlatency` N
# LL-HLS viewers (joy4-bench hls --ll: blocking reloads, every part); one mux per channel.
HLS_LINES=()
run_hls() {
  local n=$1 variant=${2:-mpegts} name="joy4-hls-${2:-mpegts}-$1" ll=()
  [ "$variant" = lowlatency ] && ll=(--ll)
  start_joy4 "$name" "-hlsvariant=$variant"
  local http
  http=$(awk '$1=="listening" && $2=="http" {print $3}' "$WORK/joy4-$name.listen")
  ffmpeg -hide_banner -loglevel error -re -stream_loop -1 -i "$CLIP" -c copy -f flv "$PUBLISH_URL" \
    2>"$RESULTS/$name.ffmpeg.log" &
  local ffmpeg_pid=$!
  PIDS+=("$ffmpeg_pid")
  sleep 6 # a first segment (2 s) and the playlist's window starting to fill
  log "joy4 hls $variant N=$n: running (log: $RESULTS/$name.log)"
  if "$BENCH" hls --play "http://$http/live/bench.m3u8" -n "$n" --duration "${DURATION}s" "${ll[@]}" \
       --pid "$SERVER_PID" --json "$RESULTS/$name.json" >"$RESULTS/$name.txt" 2>"$RESULTS/$name.log"; then
    HLS_LINES+=("$(cat "$RESULTS/$name.txt")")
    sed 's/^ */    /' "$RESULTS/$name.txt" >&2
  else
    log "joy4 hls $variant N=$n: the bench failed: $(tail -n 1 "$RESULTS/$name.log")"
  fi
  stop_pid "$ffmpeg_pid"
  stop_pid "$SERVER_PID"
}

# The footprint of a server: RSS, threads and open descriptors, idle and with one channel (the
# clip published with ffmpeg).
IDLE_LINES=()
footprint() {
  local pid=$1
  echo "$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status") KiB RSS, $(awk '/^Threads/ {print $2}' "/proc/$pid/status") threads, $(ls "/proc/$pid/fd" | wc -l) descriptors"
}
idle_footprint() {
  local server
  for server in joy4 nginx-rtmp; do
    case "$server" in
      joy4) start_joy4 "$server-idle" ;;
      nginx-rtmp) start_nginx "$server-idle" ;;
    esac
    sleep 2
    local idle one
    idle=$(footprint "$SERVER_PID")
    ffmpeg -hide_banner -loglevel error -re -stream_loop -1 -i "$CLIP" -c copy -f flv "$PUBLISH_URL" \
      2>"$RESULTS/$server-idle.ffmpeg.log" &
    local ffmpeg_pid=$!
    PIDS+=("$ffmpeg_pid")
    sleep 6
    one=$(footprint "$SERVER_PID")
    IDLE_LINES+=("| $server | $idle | $one |")
    log "$server idle: $idle; one channel: $one"
    stop_pid "$ffmpeg_pid"
    stop_pid "$SERVER_PID"
  done
}

START=$(date +%s)
if [ "$RECORD" = 1 ]; then
  # shellcheck source=scripts/bench-record.sh
  . scripts/bench-record.sh
  run_record
  log "done in $(( $(date +%s) - START )) s; logs and table in $RESULTS"
  exit 0
fi
for lowat in "${LOWATS[@]}"; do
  for n in "${COUNTS[@]+"${COUNTS[@]}"}"; do
    run_case joy4 rtmp "$n" "$lowat"
    run_case joy4 http-flv "$n" "$lowat"
    run_case nginx-rtmp rtmp "$n" "$lowat"
  done
done
if [ "$HLS_VIEWERS" -gt 0 ]; then
  run_hls "${HLS_VIEWERS}"
  run_hls "${HLS_VIEWERS}" lowlatency
fi
if [ "$WITH_5000" = 1 ]; then
  # Idle-ish viewers: a 100 kbit/s synthetic stream; threads and descriptors are what is tested.
  run_case joy4 rtmp 5000 "${LOWATS[0]}" --bitrate 100 --gop 2 --ramp 250
  run_case joy4 http-flv 5000 "${LOWATS[0]}" --bitrate 100 --gop 2 --ramp 250
fi
if [ "$SCALE" = 1 ]; then idle_footprint; fi
# The scale cases, each joy4 RTMP, joy4 HTTP-FLV, nginx-rtmp.
scale_case() {
  local n=$1
  shift
  for target in "joy4 rtmp" "joy4 http-flv" "nginx-rtmp rtmp"; do
    # shellcheck disable=SC2086
    run_case $target "$n" "${LOWATS[0]}" "$@"
  done
}
if [ "$WITH_10000" = 1 ]; then
  CASE_TAG="" scale_case 10000 --bitrate 100 --gop 2 --ramp 500 --timeout 30s
fi
if [ "$CHANNELS" -gt 0 ]; then
  CASE_TAG="-channels$CHANNELS" scale_case $(( CHANNELS * 2 )) --channels "$CHANNELS" --bitrate 1000 --gop 2 --ramp 200
  CASE_TAG="-channels$CHANNELS" run_case joy4-nogop rtmp $(( CHANNELS * 2 )) "${LOWATS[0]}" \
    --channels "$CHANNELS" --bitrate 1000 --gop 2 --ramp 200
fi
if [ "$STORM" = 1 ]; then
  CASE_TAG="-storm" POLL_API=1 CASE_DURATION=10 scale_case 10000 --bitrate 100 --gop 2 --ramp 2000 --timeout 30s
fi

# ---------------------------------------------------------------------------------------------------
# The side-by-side table.
# ---------------------------------------------------------------------------------------------------
{
  echo "joy4 vs nginx-rtmp, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo 2>/dev/null || echo unknown CPU), Linux $(uname -r)"
  echo "stream: $(basename "$CLIP") looped (~1 Mbit/s H.264/AAC, 2 s GOP; N = 5000: synthetic 100 kbit/s, 250/s ramp); ${DURATION} s measured per case after a 200/s ramp;" \
       "joy4 -mergewrite=${MERGEWRITE:-default} (${WINDOW_MS} ms); readers: $READERS;" \
       "$("$NGINX" -v 2>&1 | sed 's/^nginx version: //') with $(basename "$MODULE")"
  echo
  if [ ${#FILES[@]} -gt 0 ]; then
    "$BENCH" summary --baseline nginx-rtmp --targets "$WINDOW_MS" "${FILES[@]}"
  else
    echo "(no case completed)"
  fi
  if [ ${#IDLE_LINES[@]} -gt 0 ]; then
    echo
    echo "Footprint (RSS, threads, open descriptors), idle and with one channel (the clip published with ffmpeg, no viewer):"
    echo "| server | idle | one channel |"
    echo "|---|---|---|"
    printf '%s\n' "${IDLE_LINES[@]}"
  fi
  if [ "$HLS_VIEWERS" -gt 0 ]; then
    echo
    echo "HLS viewers (joy4 only: nginx-rtmp has no HLS from memory), ${HLS_VIEWERS} viewers polling the playlist and fetching each new segment (mpegts), and ${HLS_VIEWERS} LL-HLS viewers (lowlatency: blocking reloads, every part):"
    if [ ${#HLS_LINES[@]} -gt 0 ]; then printf '%s\n' "${HLS_LINES[@]}"; else echo "(the HLS case did not complete)"; fi
  fi
  echo
  echo "CPU vs base: server CPU per subscriber-second over nginx-rtmp's RTMP figure at the same N and readers."
  echo "readers: player = woken for every write (as real players are); lowat 16K = SO_RCVLOWAT 16 KiB on all but 50 probes (N <= 50: all are probes)."
  echo "share: media bytes each subscriber got of those published in the window (min and median over subscribers)."
  echo "latency: publish send time to subscriber arrival, measured on probe subscribers."
  echo "1st key: from a subscriber's connect to its first video keyframe (median and max over subscribers)."
} | tee "$RESULTS/summary.md"
log "done in $(( $(date +%s) - START )) s; JSON, logs and tables in $RESULTS"
[ ${#FILES[@]} -gt 0 ]
