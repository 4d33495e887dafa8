"""One scan of the installed distributions per process, however many artifacts a run saves.

ZenML records where an artifact's type comes from (`pandas` for a DataFrame) and finds the
distribution with `importlib.metadata.packages_distributions()`, which reads the file list of
every installed distribution: 0.4 to 1 s with this stack, paid again for every DataFrame a step
returns (five per training run). What is installed does not change while a pipeline runs, so the
lookup is cached for the process.
"""

from __future__ import annotations

import functools
import importlib.metadata


def cache_distribution_lookup() -> None:
    """Make `packages_distributions` compute its mapping once per process; idempotent."""
    lookup = importlib.metadata.packages_distributions
    if not hasattr(lookup, "cache_info"):
        importlib.metadata.packages_distributions = functools.cache(lookup)
