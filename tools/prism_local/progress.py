"""Progress for long work (writes, fan-out, backfills): a bar redrawn in place on a terminal, and on a pipe
or CI log one line per quarter, so logs stay readable."""

from __future__ import annotations

import sys
import time
from typing import TextIO

_WIDTH = 30


class ProgressBar:
    def __init__(self, label: str, total: int, stream: TextIO | None = None) -> None:
        self.label = label
        self.total = max(total, 1)
        self._stream = stream or sys.stderr
        self._interactive = self._stream.isatty()
        self._started = time.monotonic()
        self._last_cells = -1
        self._last_quarter = -1

    def update(self, done: int) -> None:
        done = min(done, self.total)
        cells = _WIDTH * done // self.total
        finished = done >= self.total
        if self._interactive:
            if cells != self._last_cells or finished:
                self._last_cells = cells
                self._write(f"\r{self._line(done, cells)}" + ("\n" if finished else ""))
            return
        quarter = 4 * done // self.total
        if quarter != self._last_quarter:
            self._last_quarter = quarter
            self._write(self._line(done, cells) + "\n")

    def _line(self, done: int, cells: int) -> str:
        elapsed = time.monotonic() - self._started
        return f"  {self.label:<22} [{'#' * cells}{'.' * (_WIDTH - cells)}] {done}/{self.total}  {elapsed:5.1f} s"

    def _write(self, text: str) -> None:
        self._stream.write(text)
        self._stream.flush()
