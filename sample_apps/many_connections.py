"""Query a key-value service over hundreds of short TCP connections.

The program starts a loopback key-value service (``socketserver``
ThreadingTCPServer on 127.0.0.1, ephemeral port, daemon thread) whose
handler takes ~6 ms to look a key up before it replies, like a small remote
cache or DNS-style lookup service.  The client then looks up 200 keys, one
connection per key, with plain blocking sockets:
``lookup(key)`` = ``socket.create_connection`` + ``sendall`` + ``recv``,
called one after another from ``main()``.

Nearly all of the time is spent waiting for replies, and there are many
small independent waits.  Hundreds of concurrent connections are asyncio's
home ground: one event loop with ``asyncio.open_connection`` keeps them all
in flight without a thread per connection.

Expected model: asyncio
Dominant category: io_wait
"""

import socket
import socketserver
import threading
import time

N_KEYS = 200
LOOKUP_DELAY_S = 0.006


class LookupHandler(socketserver.StreamRequestHandler):
    def handle(self):
        key = self.rfile.readline().strip().decode()
        time.sleep(LOOKUP_DELAY_S)  # the lookup latency of the service (server side)
        value = sum(key.encode()) * 7919 % 100_003
        self.wfile.write(f"{key}={value}\n".encode())


class LookupServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 512


def start_server():
    """Start the lookup service on 127.0.0.1:<ephemeral>; return (server, (host, port))."""
    server = LookupServer(("127.0.0.1", 0), LookupHandler)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    return server, server.server_address[:2]


def stop_server(server):
    server.shutdown()
    server.server_close()


def lookup(address, key):
    """Open one connection, ask for one key, return its integer value."""
    with socket.create_connection(address, timeout=10) as sock:
        sock.sendall(f"{key}\n".encode())
        data = b""
        while not data.endswith(b"\n"):
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    return int(data.split(b"=")[1])


def main():
    server, address = start_server()
    try:
        start = time.perf_counter()
        total = 0
        for i in range(N_KEYS):
            total += lookup(address, f"user:{i}")
        elapsed = time.perf_counter() - start
    finally:
        stop_server(server)
    print(f"many_connections: {N_KEYS} lookups over {N_KEYS} connections, checksum {total}, {elapsed:.2f}s")


if __name__ == "__main__":
    main()
