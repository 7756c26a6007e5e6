# Sourced by scripts/bench.sh --record: recording, joy4 against nginx-rtmp (`record all`), side
# by side. For each server, RECORD_CHANNELS ffmpeg publishers of the ~1 Mbit/s clip (-re, -c copy,
# looped) run without recording and with every channel recorded to a folder of the run's
# scratch directory, RECORD_REPEAT times each in turn (the publishers share the machine's cores
# with the server, so one run's figures are noisy: the table shows means);
# the server's CPU (utime + stime) and RSS are read from /proc over the measured window. Extra CPU per recorded channel-second = (CPU recording - CPU not recording) /
# (channels x seconds); memory per recording = (RSS recording - RSS not recording) / channels.
# Target: joy4's extra CPU per recorded channel-second <= nginx-rtmp's, and joy4's memory per
# running recording <= 256 KiB besides its queue.

RECORD_CHANNELS=${RECORD_CHANNELS:-100}
RECORD_REPEAT=${RECORD_REPEAT:-4}
RECORD_LINES=()

# start_recording_nginx NAME DIR: nginx-rtmp with `record all` into DIR (empty DIR: no recording).
start_recording_nginx() {
  local name=$1 rec=$2 dir="$WORK/nginx-$1" port files=$SOFT
  port=$(free_port)
  mkdir -p "$dir/logs"
  [ "$files" = unlimited ] && files=65536
  local record="record off;"
  [ -n "$rec" ] && record="record all; record_path $rec; record_unique on;"
  cat >"$dir/nginx.conf" <<NGINX
load_module $MODULE;
daemon off;
master_process off;
worker_processes 1;
worker_rlimit_nofile $files;
pid $dir/nginx.pid;
error_log $RESULTS/$name.server.log warn;
events { worker_connections 4096; }
rtmp {
  server {
    listen 127.0.0.1:$port;
    chunk_size 4096;
    application live { live on; $record }
  }
}
NGINX
  "$NGINX" -p "$dir" -c "$dir/nginx.conf" -e "$RESULTS/$name.server.log" &
  SERVER_PID=$!
  PIDS+=("$SERVER_PID")
  wait_port "$port" || { echo "bench.sh: nginx did not start (see $RESULTS/$name.server.log)" >&2; exit 1; }
  PUBLISH_BASE="rtmp://127.0.0.1:$port/live"
}

# start_recording_joy4 NAME DIR: joy4 with -recordall into DIR (empty DIR: no recording).
start_recording_joy4() {
  local name=$1 rec=$2 out="$WORK/joy4-$1.listen"
  local flags=(-rtmp=127.0.0.1:0 -http=127.0.0.1:0 -httpapi=127.0.0.1:0 -loglevel=warn)
  [ -n "$rec" ] && flags+=("-recorddir=$rec" -recordall)
  "$JOY4" "${flags[@]}" >"$out" 2>"$RESULTS/$name.server.log" &
  SERVER_PID=$!
  PIDS+=("$SERVER_PID")
  for _ in $(seq 100); do grep -q '^listening httpapi ' "$out" 2>/dev/null && break; sleep 0.1; done
  grep -q '^listening httpapi ' "$out" || { echo "bench.sh: joy4 did not start" >&2; exit 1; }
  PUBLISH_BASE="rtmp://$(awk '$1=="listening" && $2=="rtmp" {print $3}' "$out")/live"
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

# record_case SERVER on|off: prints "SERVER on|off cpu_seconds seconds rss_kib bytes_written files".
record_case() {
  local server=$1 mode=$2 name="record-$1-$2" rec=""
  if [ "$mode" = on ]; then rec="$WORK/rec-$server"; rm -rf "$rec"; mkdir -p "$rec"; fi
  case "$server" in
    joy4) start_recording_joy4 "$name" "$rec" ;;
    nginx-rtmp) start_recording_nginx "$name" "$rec" ;;
  esac
  local pubs=() i
  for i in $(seq "$RECORD_CHANNELS"); do
    ffmpeg -hide_banner -loglevel error -nostdin -re -stream_loop -1 -i "$CLIP" -c copy -f flv \
      "$PUBLISH_BASE/rec$i" 2>>"$RESULTS/$name.ffmpeg.log" &
    pubs+=($!)
    PIDS+=($!)
  done
  # Wait until every channel is connected, then let the first files open.
  local port=${PUBLISH_BASE#rtmp://*:}
  port=${port%%/*}
  for _ in $(seq 300); do
    [ "$(ss -Htn state established "( sport = :$port )" 2>/dev/null | wc -l)" -ge "$RECORD_CHANNELS" ] && break
    sleep 0.2
  done
  sleep 10
  local t0 c0 t1 c1 rss
  t0=$(date +%s.%N); c0=$(cpu_ticks "$SERVER_PID")
  sleep "$DURATION"
  t1=$(date +%s.%N); c1=$(cpu_ticks "$SERVER_PID"); rss=$(rss_kib "$SERVER_PID")
  local alive=0 p
  # Publishers still connected: the server's established RTMP connections.
  alive=$(ss -Htn state established "( sport = :$port )" 2>/dev/null | wc -l)
  for p in "${pubs[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pubs[@]}"; do wait "$p" 2>/dev/null || true; done
  stop_pid "$SERVER_PID"
  local bytes=0 files=0
  if [ -n "$rec" ]; then
    bytes=$(du -sb "$rec" | awk '{print $1}')
    files=$(find "$rec" -type f | wc -l)
    rm -rf "$rec"
  fi
  local hz
  hz=$(getconf CLK_TCK)
  local line
  line=$(awk -v s="$server" -v m="$mode" -v c0="$c0" -v c1="$c1" -v t0="$t0" -v t1="$t1" -v hz="$hz" \
    -v rss="$rss" -v b="$bytes" -v f="$files" -v a="$alive" \
    'BEGIN {printf "%s %s %.3f %.3f %d %d %d %d", s, m, (c1 - c0) / hz, t1 - t0, rss, b, f, a}')
  log "record: $line"
  RECORD_LINES+=("$line")
}

run_record() {
  local server mode rep
  for rep in $(seq "$RECORD_REPEAT"); do
    for server in joy4 nginx-rtmp; do
      for mode in off on; do record_case "$server" "$mode"; done
    done
  done
  {
    echo "Recording, joy4 vs nginx-rtmp (record all), $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, Linux $(uname -r)"
    echo "$RECORD_CHANNELS channels of $(basename "$CLIP") (~1 Mbit/s H.264/AAC, 2 s GOP) published with ffmpeg -re -c copy (one process each); ${DURATION} s measured from 10 s after every channel connected"
    echo
    echo "| server | recording | server CPU | CPU per channel-second | extra CPU per recorded channel-second | RSS | RSS per recording | written | files | connections up |"
    echo "|---|---|---|---|---|---|---|---|---|---|"
    printf '%s\n' "${RECORD_LINES[@]}" | awk -v n="$RECORD_CHANNELS" '
      {
        key = $1 " " $2
        if (!(key in runs)) order[++keys] = key
        runs[key]++; cpu[key] += $3; secs[key] += $4; rss[key] += $5; bytes[key] += $6
        files[key] += $7; up[key] += $8
      }
      END {
        for (i = 1; i <= keys; i++) {
          key = order[i]; split(key, f, " "); off = f[1] " off"; r = runs[key]
          rate = cpu[key] / secs[key]
          extra = "-"; mem = "-"
          if (f[2] == "on" && (off in cpu)) {
            EXTRA[f[1]] = (rate - cpu[off] / secs[off]) / n * 1e6
            MEM[f[1]] = (rss[key] - rss[off]) / runs[off] / n
            extra = sprintf("%.1f µs", EXTRA[f[1]]); mem = sprintf("%.0f KiB", MEM[f[1]])
          }
          printf "| %s | %s | %.2f s in %.0f s | %.1f µs | %s | %d MiB | %s | %.1f MiB | %d | %d |\n",
            f[1], f[2], cpu[key] / r, secs[key] / r, rate / n * 1e6, extra, rss[key] / r / 1024, mem,
            bytes[key] / r / 1048576, files[key] / r, up[key] / r
        }
        print ""
        if (("joy4" in EXTRA) && ("nginx-rtmp" in EXTRA)) {
          printf "target: joy4 extra CPU per recorded channel-second <= nginx-rtmp'"'"'s: %.1f vs %.1f µs: %s\n",
            EXTRA["joy4"], EXTRA["nginx-rtmp"], (EXTRA["joy4"] <= EXTRA["nginx-rtmp"] ? "met" : "NOT MET")
        }
        if ("joy4" in MEM) {
          printf "target: joy4 memory per running recording <= 256 KiB: %.0f KiB: %s\n",
            MEM["joy4"], (MEM["joy4"] <= 256 ? "met" : "NOT MET")
        }
      }'
    echo
    echo "Figures are the mean of $RECORD_REPEAT runs of each case, taken in turn (off, on, off, on)."
  } | tee "$RESULTS/record.md"
}
