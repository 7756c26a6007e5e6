#!/usr/bin/env bash
# Run the whole test suite: unit tests and the end-to-end tests (the real binary driven by real
# clients). Installs with apt-get whatever the tests need and is missing: ffmpeg/ffprobe, rtmpdump
# (a librtmp client), GStreamer with its RTMP, soup, x264 and AAC plugins, chromium and
# chromium-driver (the watch page's browser tests), VLC (cvlc: recordings play in VLC), Python's
# Prometheus client (the /metrics parser check) and fusepy (a FUSE disk that stalls), systemd's
# systemd-analyze (the unit file check), and for the HLS tests nginx, npm and hls.js.
# Extra arguments go to the test binaries (a name filter, --nocapture, ...):
#   scripts/test.sh bad_inputs -- or --  scripts/test.sh --nocapture
set -euo pipefail
cd "$(dirname "$0")/.."

MISSING=()
have() { command -v "$1" >/dev/null 2>&1; }
gst_has() { have gst-inspect-1.0 && gst-inspect-1.0 "$1" >/dev/null 2>&1; }

if ! have ffmpeg || ! have ffprobe || ! have rtmpdump; then
  MISSING+=(ffmpeg rtmpdump)
fi
# rtmp2sink/rtmp2src and voaacenc (-bad), souphttpsrc and flvdemux (-good), x264enc (-ugly).
if ! have gst-launch-1.0 || ! gst_has rtmp2sink || ! gst_has x264enc || ! gst_has souphttpsrc; then
  MISSING+=(gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good
            gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly)
fi
if ! have chromium || ! have chromedriver; then
  MISSING+=(chromium chromium-driver)
fi
# The HLS tests put nginx's proxy_cache in front of the media port and fetch hls.js with npm.
if ! have nginx; then
  MISSING+=(nginx)
fi
# The tests across hosts: haproxy in front of joy4 (PROXY protocol, TLS with a certificate made
# by openssl), and network namespaces with veth links and a bridge (iproute2).
if ! have haproxy; then
  MISSING+=(haproxy)
fi
if ! have openssl; then
  MISSING+=(openssl)
fi
if ! have ip; then
  MISSING+=(iproute2)
fi
if ! have npm; then
  MISSING+=(npm)
fi
# The API's /metrics test checks the text with the Prometheus client library's own parser.
if ! /usr/bin/python3 -c 'import prometheus_client' >/dev/null 2>&1; then
  MISSING+=(python3 python3-prometheus-client)
fi
# Recordings are played by VLC too (cvlc remuxing with its MP4 demuxer and avformat muxer).
if ! have cvlc; then
  MISSING+=(vlc-bin vlc-plugin-base)
fi
# The slow-disk recording test mounts tests/support/slowfs.py, a FUSE filesystem in Python
# (fusepy; as root libfuse mounts without fusermount).
if ! /usr/bin/python3 -c 'import fusepy' >/dev/null 2>&1; then
  MISSING+=(python3 python3-fusepy)
fi
# docs/joy4.service is checked with systemd-analyze verify (the package alone: nothing is booted).
if ! [ -x /usr/bin/systemd-analyze ]; then
  MISSING+=(systemd)
fi

if [ ${#MISSING[@]} -gt 0 ]; then
  echo "test.sh: installing ${MISSING[*]} with apt-get" >&2
  export DEBIAN_FRONTEND=noninteractive
  SUDO=()
  if [ "$(id -u)" -ne 0 ]; then
    if have sudo; then
      SUDO=(sudo -E)
    else
      echo "test.sh: not root and no sudo: cannot install ${MISSING[*]}" >&2
      exit 1
    fi
  fi
  ${SUDO[@]+"${SUDO[@]}"} apt-get update
  ${SUDO[@]+"${SUDO[@]}"} apt-get install -y "${MISSING[@]}"
fi

# The HLS tests: hls.js (npm, test-only, under target/npm) in headless Chromium.
if [ ! -f target/npm/node_modules/hls.js/dist/hls.min.js ]; then
  mkdir -p target/npm
  npm install --prefix target/npm --no-save --no-audit --no-fund hls.js@1
fi

# Arrows between rooms and files run one way: no import circle among the source files.
python3 scripts/import-circles.py --self-test
python3 scripts/import-circles.py

cargo build --all-targets
cargo test --all-targets -- --test-threads=4 "$@"
