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

# GStreamer's RTMP elements (rtmp2sink/rtmp2src: plugins-bad), souphttpsrc + flvdemux (-good),
# x264enc (-ugly) and voaacenc (-bad), for tests/e2e_gstreamer.rs.
if ! command -v gst-launch-1.0 >/dev/null 2>&1 \
   || ! gst-inspect-1.0 rtmp2sink >/dev/null 2>&1 || ! gst-inspect-1.0 x264enc >/dev/null 2>&1 \
   || ! gst-inspect-1.0 souphttpsrc >/dev/null 2>&1; then
  echo "test.sh: GStreamer or its RTMP/x264/soup plugins not found; installing them with apt-get" >&2
  export DEBIAN_FRONTEND=noninteractive
  SUDO=()
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
      SUDO=(sudo -E)
    else
      echo "test.sh: not root and no sudo: cannot install GStreamer" >&2
      exit 1
    fi
  fi
  ${SUDO[@]+"${SUDO[@]}"} apt-get update
  ${SUDO[@]+"${SUDO[@]}"} apt-get install -y --no-install-recommends gstreamer1.0-tools \
    gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad \
    gstreamer1.0-plugins-ugly
fi

cargo build --all-targets
cargo test --all-targets -- --test-threads=4 "$@"
