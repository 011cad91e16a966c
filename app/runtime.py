"""Process-wide tuning applied once, when a worker has built everything it keeps for its lifetime.

Python's cyclic garbage collector scans its youngest generation every 700 net allocations and,
now and then, every object the process holds. A worker holds some 175,000 objects built at start-up
(the framework, the policy pack, the clause model) that live as long as it does, so under load each
full scan paused it for about 100 ms, and 50 requests in flight kept the young generation near 700
so that it was scanned thousands of times a minute. Freezing the start-up objects takes them out of
every scan; a higher young threshold lets short-lived request objects die by reference counting
before a scan sees them. Measured under `bench.mixed`-style load on PostgreSQL: about 1.6-5.6 s of
collection per worker per run before, 0.14-0.29 s after.
"""

from __future__ import annotations

import gc
import threading

_lock = threading.Lock()
_tuned = False


def tune_gc_once(young_threshold: int) -> bool:
    """Freeze the objects alive now and set the young generation's threshold, once per process.

    The first call wins (a test process builds many apps; only the first one's start-up objects are
    frozen, so the frozen set stays bounded). `young_threshold` 0 leaves the collector as it is.

    Returns:
        True when this call tuned the collector, False when it was done before or is turned off.

    """
    global _tuned
    if young_threshold <= 0:
        return False
    with _lock:
        if _tuned:
            return False
        _tuned = True
    _, older, oldest = gc.get_threshold()
    gc.collect()  # what start-up left as garbage is freed, not frozen
    gc.freeze()
    gc.set_threshold(young_threshold, older, oldest)
    return True
