#!/usr/bin/env python3
"""Ask a synpool keeper for a pre-handshaked connection and send one GET on it.

Usage: accelerated-connect.py SOCKET HOST PORT PATH

Speaks the keeper protocol v1 (docs/keeper-protocol.md): one JSON request per
line on the keeper's Unix socket; a success reply carries the connected TCP
socket as an SCM_RIGHTS descriptor. Prints the response's status line; on a
refusal prints the keeper's code and message to stderr and exits 2. Standard
library only (Python >= 3.9 for socket.recv_fds).
"""
import json
import socket
import sys

MAX_LINE = 4096


def ask_keeper(keeper, host, port):
    """Returns (socket, reply) or raises SystemExit with the keeper's error."""
    fds = []  # descriptors in arrival order; each "fd": true reply takes the next one
    buf = b""
    request = {"v": 1, "op": "connect", "id": 1, "host": host, "port": port}
    keeper.sendall(json.dumps(request).encode() + b"\n")
    while b"\n" not in buf:
        data, got, _flags, _addr = socket.recv_fds(keeper, MAX_LINE + 1, 4)
        fds.extend(got)
        if not data:
            raise SystemExit("keeper closed the connection without a reply")
        buf += data
    reply = json.loads(buf.split(b"\n", 1)[0])
    if reply.get("fd") is True and fds:
        fd = fds.pop(0)
        for extra in fds:
            socket.close(extra)
        return socket.socket(fileno=fd), reply
    for extra in fds:
        socket.close(extra)
    print(f"keeper refused: {reply.get('code')}: {reply.get('message')}", file=sys.stderr)
    raise SystemExit(2)


def main():
    if len(sys.argv) != 5:
        raise SystemExit(__doc__.split("\n\n")[1])
    path, host, port, url_path = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as keeper:
        keeper.connect(path)
        conn, reply = ask_keeper(keeper, host, port)
        with conn:
            # O_NONBLOCK belongs to the open file, which the keeper's event loop shared: pick our own mode.
            conn.settimeout(10)
            # The connection is ESTABLISHED already: this write is the upstream's first segment.
            authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
            conn.sendall(f"GET {url_path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n".encode())
            head = b""
            try:
                while b"\r\n" not in head:
                    chunk = conn.recv(4096)
                    if not chunk:
                        raise SystemExit("the upstream closed the connection before a status line")
                    head += chunk
            except ConnectionResetError:
                if head:
                    raise
                # Reset before any byte: the server had forgotten the half-open entry. Tell the
                # keeper (it learns the entry's lifetime); nothing reached the application, so
                # the request could be retried on a plain connection.
                keeper.sendall(json.dumps({"v": 1, "op": "dead", "entry": reply["entry"]}).encode() + b"\n")
                raise SystemExit("the pooled connection was reset on first use (reported to the keeper)")
    print(head.split(b"\r\n", 1)[0].decode("latin-1"))


if __name__ == "__main__":
    main()
