"""A progress bar on stderr, drawn only when stderr is a terminal (a log or a pipe gets none).

Hand-written: one line redrawn with `\r`, a dozen lines; a library would be a dependency for that.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    def __init__(self, what: str, total: int, out: TextIO | None = None) -> None:
        self.out = out or sys.stderr
        self.enabled = self.out.isatty()
        self.what, self.total, self.done = what, max(total, 1), 0
        self.started = time.monotonic()

    def advance(self, n: int) -> None:
        self.done += n
        if not self.enabled:
            return
        share = min(self.done / self.total, 1.0)
        bar = "#" * int(30 * share)
        rate = self.done / max(time.monotonic() - self.started, 1e-6)
        self.out.write(f"\r{self.what:<6} [{bar:<30}] {self.done}/{self.total} ({rate:,.0f}/s)")
        self.out.flush()

    def close(self) -> None:
        if self.enabled:
            self.out.write("\n")
            self.out.flush()
