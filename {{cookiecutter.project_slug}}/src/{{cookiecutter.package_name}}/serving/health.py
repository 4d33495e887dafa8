"""Is the online store there and filled? A background check, so probes never wait on the store.

A thread looks up the materialisation marker (features/store.py `write_marker`) every
`interval_s` seconds, giving each lookup `timeout_s`; requests and /readyz read the last
result. A store that is down, stalled or emptied turns the service unready within about
`interval_s + timeout_s`, and ready again when it is back, without a restart.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as LookupTimeout
from datetime import datetime

from {{ cookiecutter.package_name }}.serving.schemas import OnlineStoreState

logger = logging.getLogger(__name__)
EMPTY = (
    "the online store holds no materialized features (emptied or never filled): run `make features`"
)
UNREACHABLE = "the online store does not answer: check its connection and that it runs"
STARTING = "the online store has not been checked yet"


class StoreProbe:
    """The online store's state, refreshed in the background."""

    def __init__(
        self,
        materialized_at: Callable[[], datetime | None],
        *,
        interval_s: float = 1.0,
        timeout_s: float = 0.5,
        on_change: Callable[[bool], None] | None = None,
    ) -> None:
        """`materialized_at` reads the marker (None: no marker; raises: store unreachable)."""
        self._lookup = materialized_at
        self.interval_s = interval_s
        self.timeout_s = timeout_s
        self._on_change = on_change
        self.state = OnlineStoreState(reachable=False, materialized_at=None, reason=STARTING)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store-probe")
        self._pending: Future[datetime | None] | None = None
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="store-probe", daemon=True)

    @property
    def ready(self) -> bool:
        """Whether the store answered and held the marker at the last check."""
        return self.state.reason is None

    def start(self) -> StoreProbe:
        """Check once now, then every `interval_s` in the background."""
        self.check()
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop checking."""
        self._stopped.set()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def check(self) -> OnlineStoreState:
        """One check; a lookup still running from before (a stalled store) counts as down."""
        if self._pending is None or self._pending.done():
            self._pending = self._pool.submit(self._lookup)
        cause = ""
        down = OnlineStoreState(reachable=False, materialized_at=None, reason=UNREACHABLE)
        try:
            stamp = self._pending.result(timeout=self.timeout_s)
        except LookupTimeout:
            state, cause = down, f" (no answer within {self.timeout_s} s)"
        except Exception as error:  # any client error means the store cannot serve features
            state, cause = down, f" ({type(error).__name__}: {error})"
        else:
            reason = None if stamp is not None else EMPTY
            state = OnlineStoreState(reachable=True, materialized_at=stamp, reason=reason)
        if (state.reason is None) != self.ready or self.state.reason == STARTING:
            logger.log(
                logging.INFO if state.reason is None else logging.WARNING,
                "online store %s",
                "ready" if state.reason is None else f"not ready: {state.reason}{cause}",
            )
            if self._on_change is not None:
                self._on_change(state.reason is None)
        self.state = state
        return state

    def _run(self) -> None:
        while not self._stopped.wait(self.interval_s):
            self.check()
