"""The peer of benches/tls_cost.sh: Python's ssl (or plain sockets) against `netloop serve
--framed`, so that the server's cost of TLS is measured against a TLS stack not written here.

    python3 benches/tls_peer.py echo  plain|tls PORT CA FRAMES   # FRAMES 64-byte frames, 16 in flight
    python3 benches/tls_peer.py idle  plain|tls PORT CA CONNS    # CONNS idle connections, held
                                                                  # until a line on stdin
"""
import socket
import ssl
import struct
import sys

cmd, mode, port, ca, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
ctx = ssl.create_default_context(cafile=ca) if mode == "tls" else None


def connect():
    raw = socket.create_connection(("127.0.0.1", port), timeout=30)
    return ctx.wrap_socket(raw, server_hostname="localhost") if ctx else raw


if cmd == "echo":
    s = connect()
    frame = struct.pack(">I", 64) + b"x" * 64
    batch = frame * 16
    for _ in range(n // 16):
        s.sendall(batch)
        got = 0
        while got < len(batch):
            data = s.recv(65536)
            if not data:
                sys.exit("the server closed early")
            got += len(data)
    print("done", flush=True)
elif cmd == "idle":
    held = [connect() for _ in range(n)]
    print("open", len(held), flush=True)
    sys.stdin.readline()
