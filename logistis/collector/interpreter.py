"""How the collector's processes set the interpreter up for serving: the GIL and the collector
of cyclic garbage.

Both are process-wide and are set once, at start, by the process that serves (the collector, a
webhook worker, and the tools that measure them as they run).
"""

from __future__ import annotations

import gc
import sys

# The encoder and deriver threads run Python too: a thread holding the GIL gives it up after
# this long when the event loop wants it back to answer a review (5 ms by default, which showed
# in the latency at 500 reviews/s).
GIL_SWITCH_SECONDS = 0.001
# Container objects allocated, less those freed, before a young collection. A review's objects
# decode into thousands of dicts and lists that stay alive a while (its commit group, the
# deriver's pass and the steps it keeps for the next), so the default, 700, ran a young
# collection every few reviews, each walking them again: this takes a few percent of the CPU
# per review off (BENCHMARKS.md, "fewer collections of garbage"). Reference cycles, the garbage
# it exists for, are rare here and still collected.
YOUNG_COLLECTION_THRESHOLD = 20_000
# How many collections of a generation before the next older one is collected with it; the
# default's 10 keeps the full collections, which walk every object alive, at a tenth of the
# young ones' pace; at 20 they come a twentieth as often as the young ones.
OLDER_COLLECTION_RATIO = 20


def tune_for_serving() -> None:
    """Set this process up to serve (what it holds once started is frozen apart, by the
    server and the worker, when they are up)."""
    sys.setswitchinterval(GIL_SWITCH_SECONDS)
    gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, OLDER_COLLECTION_RATIO, OLDER_COLLECTION_RATIO)
