"""One scoring thread that takes every request waiting and scores them together.

Off the event loop, so probes and parsing never wait on the online store or XGBoost. Under load
the requests that arrived while the previous batch was scored go together: one online-store
lookup and one model call for all of them (the fixed cost of a Feast lookup is most of a
request's). Alone, a request is scored at once: nothing waits for a batch to fill.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from {{ cookiecutter.package_name }}.serving.schemas import Transaction
from {{ cookiecutter.package_name }}.serving.scorer import Scored

logger = logging.getLogger(__name__)
ScoreFunction = Callable[[list[Transaction], bool], Scored]
RecordFunction = Callable[[list[Transaction], Scored], None]


@dataclass
class _Request:
    transactions: list[Transaction]
    explain: bool
    loop: asyncio.AbstractEventLoop
    answer: asyncio.Future[Scored]


class Batcher:
    """Scores submitted transactions on its own thread, merging what waits together."""

    def __init__(self, score: ScoreFunction, record: RecordFunction, max_rows: int) -> None:
        """Start the thread: it calls `score` on at most `max_rows` rows, then `record`.

        `score(transactions, explain)` computes the answers; `record(transactions, scored)` runs
        once they are handed back (the metrics and the log).
        """
        self._score = score
        self._record = record
        self._max_rows = max_rows
        self._waiting: list[_Request] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        threading.Thread(target=self._run, name="scoring", daemon=True).start()

    async def submit(self, transactions: list[Transaction], explain: bool) -> Scored:
        """Score these transactions (with reasons if `explain`) and wait for the result."""
        loop = asyncio.get_running_loop()
        request = _Request(transactions, explain, loop, loop.create_future())
        with self._lock:
            self._waiting.append(request)
        self._wake.set()
        return await request.answer

    def _run(self) -> None:
        while True:
            self._wake.wait()
            with self._lock:
                waiting, self._waiting = self._waiting, []
                self._wake.clear()
            for explain in (False, True):
                group = [request for request in waiting if request.explain is explain]
                for batch in self._batches(group):
                    self._score_batch(batch, explain)

    def _batches(self, requests: list[_Request]) -> list[list[_Request]]:
        """Consecutive requests of at most `max_rows` transactions together (one alone if over)."""
        batches: list[list[_Request]] = []
        rows = 0
        for request in requests:
            if not batches or rows + len(request.transactions) > self._max_rows:
                batches.append([])
                rows = 0
            batches[-1].append(request)
            rows += len(request.transactions)
        return batches

    def _score_batch(self, batch: list[_Request], explain: bool) -> None:
        transactions = [t for request in batch for t in request.transactions]
        try:
            scored = self._score(transactions, explain)
        except Exception as error:  # handed to every waiting request, which decides the answer
            for request in batch:
                request.loop.call_soon_threadsafe(_fail, request.answer, error)
            return
        start = 0
        for request in batch:
            end = start + len(request.transactions)
            part = scored.rows(start, end)
            request.loop.call_soon_threadsafe(_succeed, request.answer, part)
            start = end
        try:
            self._record(transactions, scored)
        except Exception:  # the answers are out; the thread must live on to score the next
            logger.exception("recording %d predictions failed", len(transactions))


def _succeed(answer: asyncio.Future[Scored], scored: Scored) -> None:
    if not answer.done():  # a client that went away cancelled it
        answer.set_result(scored)


def _fail(answer: asyncio.Future[Scored], error: Exception) -> None:
    if not answer.done():
        answer.set_exception(error)
