"""The servers' log files: where each start is appended, and the tail an error message shows."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path


def log_size(path: Path) -> int:
    """The current length of ``path`` in bytes (0 when absent): where the next start's output begins."""
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def log_tail(path: Path, *, since: int = 0, lines: int = 20) -> str:
    """The last ``lines`` lines written to ``path`` after byte offset ``since``, indented for an error."""
    try:
        with path.open("rb") as log:
            log.seek(since)
            text = log.read().decode(errors="replace")
    except FileNotFoundError:
        return "    (no log file)"
    tail = text.splitlines()[-lines:]
    if not tail:
        return "    (the log is empty)"
    return "\n".join(f"    {line}" for line in tail)
