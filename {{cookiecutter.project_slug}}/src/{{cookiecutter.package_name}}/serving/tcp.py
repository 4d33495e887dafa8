"""TCP_NODELAY on the server's listening socket, which the connections it accepts inherit.

BentoML's metrics middleware records each request between the response's headers and its body,
so they leave as two small TCP segments. With Nagle's algorithm on (the socket BentoML's
process manager hands the worker does not turn it off), the body waits for the client to
acknowledge the headers, and a client that delays its acknowledgement stalls the answer by
40-200 ms: `make bench-serving` measured a p99 of 110 ms at concurrency 1 against 1.3 ms with
this setting.
"""

from __future__ import annotations

import logging
import socket
from pathlib import Path

logger = logging.getLogger(__name__)
OPEN_FILES = Path("/proc/self/fd")  # Linux (the images and CI); elsewhere nothing is changed


def disable_nagle_on_listening_sockets() -> int:
    """Set TCP_NODELAY on every listening TCP socket of this process; how many were set."""
    if not OPEN_FILES.is_dir():
        return 0
    changed = 0
    for entry in OPEN_FILES.iterdir():
        try:
            candidate = socket.socket(fileno=int(entry.name))
        except OSError:  # not a socket, or already closed
            continue
        try:
            if _listens_on_tcp(candidate):
                candidate.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                changed += 1
        finally:
            candidate.detach()  # the descriptor stays open for its owner
    logger.debug("TCP_NODELAY set on %d listening sockets", changed)
    return changed


def _listens_on_tcp(candidate: socket.socket) -> bool:
    if candidate.type != socket.SOCK_STREAM:
        return False
    if candidate.family not in (socket.AF_INET, socket.AF_INET6):
        return False
    return bool(candidate.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN))
