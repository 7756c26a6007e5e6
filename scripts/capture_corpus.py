#!/usr/bin/env python3
"""Record real RTMP sessions for the fuzz corpus, and cut the recordings into seed files.

  capture_corpus.py proxy LISTEN_PORT UPSTREAM_PORT OUT_DIR
      A recording TCP proxy on 127.0.0.1: each connection is relayed to 127.0.0.1:UPSTREAM_PORT
      and its two directions saved as OUT_DIR/<n>.c2s (client to server) and <n>.s2c.
      Runs until killed; the label of the next connection is read from OUT_DIR/label.
  capture_corpus.py split RAW_DIR CORPUS_DIR
      Seed files for each fuzz target from the recordings (see seeds_of).

The chunk parser here is written from the RTMP specification, independently of joy4's, so the
seeds do not depend on the code under test.
"""
import hashlib
import os
import socket
import sys
import threading

HANDSHAKE = 1 + 2 * 1536
SEED_MAX = 16 * 1024  # bytes kept of a stream seed; the fuzzer's inputs stay small and fast


def proxy(listen_port, upstream_port, out_dir):
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", listen_port))
    server.listen(16)
    count = 0
    while True:
        client, _ = server.accept()
        count += 1
        try:
            with open(os.path.join(out_dir, "label")) as f:
                label = f.read().strip()
        except OSError:
            label = "session"
        name = os.path.join(out_dir, "%02d-%s" % (count, label))
        upstream = socket.create_connection(("127.0.0.1", upstream_port))
        for src, dst, suffix in ((client, upstream, ".c2s"), (upstream, client, ".s2c")):
            threading.Thread(target=pump, args=(src, dst, name + suffix), daemon=True).start()


def pump(src, dst, path):
    with open(path, "wb") as out:
        while True:
            try:
                data = src.recv(65536)
            except OSError:
                data = b""
            if not data:
                break
            out.write(data)
            out.flush()
            try:
                dst.sendall(data)
            except OSError:
                break
    for s in (src, dst):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def messages(stream):
    """(type id, payload) of each complete message of a chunk stream (after the handshake)."""
    chunk_size, pos, streams, out = 128, 0, {}, []
    while pos < len(stream):
        start = pos
        b0 = stream[pos]
        fmt, csid = b0 >> 6, b0 & 0x3F
        pos += 1
        if csid == 0:
            csid, pos = 64 + stream[pos], pos + 1
        elif csid == 1:
            csid, pos = 64 + stream[pos] + 256 * stream[pos + 1], pos + 2
        st = streams.setdefault(csid, {"ts": 0, "len": 0, "type": 0, "ext": False, "data": b""})
        size = (11, 7, 3, 0)[fmt]
        if pos + size > len(stream):
            break
        header = stream[pos:pos + size]
        pos += size
        ts = None
        if fmt <= 2:
            ts = int.from_bytes(header[0:3], "big")
        if fmt <= 1:
            st["len"], st["type"] = int.from_bytes(header[3:6], "big"), header[6]
        if ts == 0xFFFFFF:
            ts, pos = int.from_bytes(stream[pos:pos + 4], "big"), pos + 4
            st["ext"] = True
        elif ts is not None:
            st["ext"] = False
        elif st["ext"]:
            pos += 4
        take = min(chunk_size, st["len"] - len(st["data"]))
        if pos + take > len(stream):
            break
        st["data"] += stream[pos:pos + take]
        pos += take
        if len(st["data"]) == st["len"]:
            out.append((st["type"], st["data"]))
            if st["type"] == 1 and len(st["data"]) >= 4:
                chunk_size = int.from_bytes(st["data"][:4], "big") & 0x7FFFFFFF
            st["data"] = b""
        if pos == start:
            break
    return out


def amf_bodies(msgs):
    """AMF0 runs of command and data messages (types 20, 18; 17 and 15 without their 0x00)."""
    for type_id, payload in msgs:
        if type_id in (20, 18):
            yield payload
        elif type_id in (17, 15) and payload[:1] == b"\x00":
            yield payload[1:]


def seeds_of(name, c2s, s2c):
    """(target, bytes) seeds of one recorded session."""
    if name.endswith("httpflv"):
        yield "flv_reader", s2c[s2c.find(b"FLV"):][:SEED_MAX] if b"FLV" in s2c else b""
        yield "http_head", c2s
        return
    yield "rtmp_handshake", c2s[:HANDSHAKE + 512]
    yield "chunk_reader", c2s[HANDSHAKE:][:SEED_MAX]
    yield "server_session", c2s[HANDSHAKE:][:SEED_MAX]
    yield "client_session", s2c[HANDSHAKE:][:SEED_MAX]
    yield "chunk_reader", s2c[HANDSHAKE:][:SEED_MAX]
    for direction in (c2s, s2c):
        msgs = messages(direction[HANDSHAKE:])
        seen_media = set()
        for type_id, payload in msgs:
            if type_id in (8, 9):
                # Headers and the first frames of each kind: the codec sniffers read the front.
                key = (type_id, payload[:2])
                if key in seen_media:
                    continue
                seen_media.add(key)
                yield "codec_headers", payload[:512]
                yield "message_decode", bytes([type_id]) + payload[:64]
            else:
                yield "message_decode", bytes([type_id]) + payload
        for body in amf_bodies(msgs):
            yield "amf0", body
            # The same bytes as an AMF3 string (marker 6, U29 length << 1 | 1).
            text = body[:63]
            yield "amf3", b"\x06" + bytes([len(text) << 1 | 1]) + text


def split(raw_dir, corpus_dir):
    names = sorted({f.rsplit(".", 1)[0] for f in os.listdir(raw_dir) if "." in f})
    written = 0
    for name in names:
        def read(suffix):
            try:
                with open(os.path.join(raw_dir, name + suffix), "rb") as f:
                    return f.read()
            except OSError:
                return b""
        for target, data in seeds_of(name, read(".c2s"), read(".s2c")):
            if not data:
                continue
            out = os.path.join(corpus_dir, target)
            os.makedirs(out, exist_ok=True)
            path = os.path.join(out, hashlib.sha1(data).hexdigest())
            if not os.path.exists(path):
                with open(path, "wb") as f:
                    f.write(data)
                written += 1
    print("capture_corpus: %d seed files from %d sessions" % (written, len(names)))


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "proxy":
        proxy(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
    elif len(sys.argv) == 4 and sys.argv[1] == "split":
        split(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
