"""The garbage collector and a long-running server process."""

from __future__ import annotations

import gc


def settle_heap() -> None:
    """Call once started. What exists then (modules, pools, the app) lives as long as the process:
    moved out of the collector's sight, it is no longer scanned by every full collection, which
    then looks only at what requests made; their pauses stay out of the latency tail."""
    gc.collect()
    gc.freeze()
