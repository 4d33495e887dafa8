"""The one ASGI layer in front of the service: API key, body cap, and 503s that say why.

One layer rather than three: every ASGI wrapper costs each request a little (measured with
`make bench-serving`), and these checks are cheap dictionary lookups.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
# An oversized body is read and dropped up to this size before the 413, so that an HTTP/1.1
# client still sending it reads the answer instead of a reset connection.
DRAIN_LIMIT = 16 * 1024 * 1024


async def _discard(receive: Receive, most: int) -> None:
    """Read (and drop) up to `most` bytes of the body, so the client gets to read our answer."""
    read, more = 0, True
    while more and read < most:
        message = await receive()
        if message["type"] != "http.request":
            return
        read += len(message.get("body", b""))
        more = message.get("more_body", False)


async def _reject(send: Send, status: int, message: str) -> None:
    body = json.dumps({"error": message}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class RequestGuard:
    """Checks a request before the service sees it, and explains the service's 503s.

    - With a key set, a protected path without the right `X-API-Key` header gets 401 (probes
      and metrics are not protected).
    - A body over `limit` bytes gets 413, whether declared (Content-Length) or streamed.
    - A 503 from a protected path gets the service's own `reason()` as its message, since
      BentoML replaces the message of every 5xx with a generic one.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        limit: int,
        protected: tuple[str, ...],
        key: str | None,
        reason: Callable[[], str | None],
    ) -> None:
        """Wrap `app`."""
        self.app = app
        self.limit = limit
        self.protected = protected
        self.key = key.encode() if key is not None else None
        self.reason = reason
        self.too_large = f"request body over {limit} bytes (serving.max_body_bytes)"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse what the service must not see; pass everything else on."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        protected = scope["path"] in self.protected
        supplied = headers.get(b"x-api-key", b"")
        if protected and self.key is not None and not hmac.compare_digest(supplied, self.key):
            await _reject(send, 401, "missing or wrong API key: send it as X-API-Key")
            return
        declared = headers.get(b"content-length")
        if declared is not None and int(declared) > self.limit:
            await _discard(receive, DRAIN_LIMIT)
            await _reject(send, 413, self.too_large)
            return
        if declared is None and scope["method"] in ("POST", "PUT", "PATCH"):
            buffered = await self._read_capped(receive)
            if buffered is None:
                await _reject(send, 413, self.too_large)
                return
            receive = buffered
        await self.app(scope, receive, self._explained(send) if protected else send)

    async def _read_capped(self, receive: Receive) -> Receive | None:
        """Read a streamed body up to the limit; a receive that replays it, or None if over."""
        chunks: list[bytes] = []
        size, more = 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.limit:
                return None
            more = message.get("more_body", False)
        replay = [{"type": "http.request", "body": b"".join(chunks), "more_body": False}]

        async def replayed() -> Message:
            return replay.pop() if replay else await receive()

        return replayed

    def _explained(self, send: Send) -> Send:
        replaced = False

        async def send_with_reason(message: Message) -> None:
            nonlocal replaced
            if message["type"] == "http.response.start" and message["status"] == 503:
                reason = self.reason()
                if reason is not None:
                    replaced = True
                    await _reject(send, 503, reason)
                    return
            if not replaced:
                await send(message)

        return send_with_reason
