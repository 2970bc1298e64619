"""Local CloudWatch: sums the metrics functions print in Embedded Metric Format (what Powertools Metrics
writes to stdout), so the demo and tests can read what a function counted, as a dashboard would."""

from __future__ import annotations

import json
import threading
from collections import defaultdict
from typing import Any


class MetricsCollector:
    """Thread-safe sums per (function logical id, metric name)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sums: dict[tuple[str, str], float] = defaultdict(float)

    def observe(self, function_id: str, line: str) -> bool:
        """Add the metrics of one output line if it is an EMF document; return whether it was one."""
        if not line.startswith("{") or '"_aws"' not in line:
            return False
        try:
            document: dict[str, Any] = json.loads(line)
            directives = document["_aws"]["CloudWatchMetrics"]
        except (ValueError, KeyError, TypeError):
            return False
        with self._lock:
            for directive in directives:
                for metric in directive.get("Metrics", []):
                    value = document.get(metric["Name"], 0)
                    values = value if isinstance(value, list) else [value]
                    self._sums[(function_id, metric["Name"])] += sum(float(v) for v in values)
        return True

    def total(self, function_id: str, metric: str) -> float:
        with self._lock:
            return self._sums.get((function_id, metric), 0.0)

    def snapshot(self) -> dict[tuple[str, str], float]:
        with self._lock:
            return dict(self._sums)
