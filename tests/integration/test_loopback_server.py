"""The loopback server behind the demo, the tests and the benchmark takes a crawler's burst of connections."""
from __future__ import annotations

import socket
import time
from http.server import BaseHTTPRequestHandler

from newswatch.sampleserver import LoopbackHTTPServer


def test_a_burst_of_connects_is_queued_not_dropped():
    # the server is not accepting yet, so every connection waits in the listen backlog: with socketserver's
    # default of 5, the kernel dropped the SYNs beyond it and each such connect took a 1 s retransmission
    httpd = LoopbackHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    socks = []
    try:
        t0 = time.perf_counter()
        for _ in range(48):  # three times the default fetch concurrency
            s = socket.create_connection(httpd.server_address, timeout=0.5)
            socks.append(s)
        assert time.perf_counter() - t0 < 0.5
    finally:
        for s in socks:
            s.close()
        httpd.server_close()
