"""Wait for a service to report ready, for scripts that start one and use it straight away."""

from __future__ import annotations

import time
import urllib.request


def wait_until_ready(
    url: str, timeout_s: float, interval_s: float = 0.5, probe_timeout_s: float = 5
) -> None:
    """Poll `url` until it answers 200; raise TimeoutError after `timeout_s` seconds.

    A worker still loading holds connections unanswered (it accepts none before it can score):
    a probe that times out is one more "not yet".
    """
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(url, timeout=probe_timeout_s) as response:
                if response.status == 200:
                    return
        except OSError:  # refused, reset, timed out, or an HTTP error status (503 while loading)
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} did not answer 200 within {timeout_s:g} s")
        time.sleep(interval_s)
