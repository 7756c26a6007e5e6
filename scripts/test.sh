#!/usr/bin/env bash
# Run the whole test suite: unit tests and the end-to-end tests (real binary + real ffmpeg).
# Installs ffmpeg/ffprobe and rtmpdump (a librtmp client) with apt-get when they are missing, and
# what the HLS tests need (chromium, chromium-driver, nginx, npm and hls.js).
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

# The HLS tests: hls.js (npm, test-only, under target/npm) in headless Chromium over chromedriver,
# and nginx's proxy_cache in front of the media port.
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1 \
   || ! command -v nginx >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "test.sh: chromium, chromedriver, nginx or npm not found; installing them with apt-get" >&2
  export DEBIAN_FRONTEND=noninteractive
  SUDO=()
  if [ "$(id -u)" -ne 0 ]; then SUDO=(sudo -E); fi
  ${SUDO[@]+"${SUDO[@]}"} apt-get update
  ${SUDO[@]+"${SUDO[@]}"} apt-get install -y chromium chromium-driver nginx npm
fi
if [ ! -f target/npm/node_modules/hls.js/dist/hls.min.js ]; then
  mkdir -p target/npm
  npm install --prefix target/npm --no-save --no-audit --no-fund hls.js@1
fi

cargo build --all-targets
cargo test --all-targets -- --test-threads=4 "$@"
