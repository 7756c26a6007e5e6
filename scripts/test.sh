#!/usr/bin/env bash
# Run the whole test suite: unit tests and the end-to-end tests (real binary + real ffmpeg).
# Installs ffmpeg/ffprobe and rtmpdump (a librtmp client) with apt-get when they are missing.
# Extra arguments go to the test binaries (a name filter, --nocapture, ...):
#   scripts/test.sh bad_inputs -- or --  scripts/test.sh --nocapture
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v ffmpeg >/dev/null 2>&1 || ! command -v ffprobe >/dev/null 2>&1 \
   || ! command -v rtmpdump >/dev/null 2>&1; then
  echo "test.sh: ffmpeg/ffprobe or rtmpdump not found; installing them with apt-get" >&2
  export DEBIAN_FRONTEND=noninteractive
  SUDO=()
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
      SUDO=(sudo -E)
    else
      echo "test.sh: not root and no sudo: cannot install ffmpeg" >&2
      exit 1
    fi
  fi
  ${SUDO[@]+"${SUDO[@]}"} apt-get update
  ${SUDO[@]+"${SUDO[@]}"} apt-get install -y ffmpeg rtmpdump
fi

# The API's /metrics test checks the text with the Prometheus client library's own parser.
if ! /usr/bin/python3 -c 'import prometheus_client' >/dev/null 2>&1; then
  echo "test.sh: python3-prometheus-client not found; installing it with apt-get" >&2
  SUDO=()
  if [ "$(id -u)" -ne 0 ]; then SUDO=(sudo -E); fi
  ${SUDO[@]+"${SUDO[@]}"} apt-get update
  DEBIAN_FRONTEND=noninteractive ${SUDO[@]+"${SUDO[@]}"} apt-get install -y python3 python3-prometheus-client
fi

cargo build --all-targets
cargo test --all-targets -- --test-threads=4 "$@"
