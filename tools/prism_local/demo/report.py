"""The demo's report: what was written, what the fanout did, what each sink queue received, and how fast."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prism_local.demo.queues import QueueDelivery
    from prism_local.demo.workload import WrittenWorkload


@dataclass(frozen=True)
class FanoutFigures:
    stream_records: int
    invocations: int
    function_errors: int
    cold_starts: int
    published: int
    claim_checks: int
    skipped: int
    malformed: int


@dataclass(frozen=True)
class DemoResult:
    workload: WrittenWorkload
    fanout: FanoutFigures
    deliveries: dict[str, QueueDelivery]
    failures: dict[str, int]
    elapsed_s: float

    @property
    def expected(self) -> set[tuple[str, str, int]]:
        return {(w.entity, w.entity_id, w.version) for w in self.workload.entity_writes}  # type: ignore[misc]

    def missing(self, sink: str) -> int:
        return len(self.expected - set(self.deliveries[sink].sent_ms))

    @property
    def passed(self) -> bool:
        return all(self.missing(sink) == 0 and not d.unreadable for sink, d in self.deliveries.items()) and not any(
            self.failures.values()
        )

    def lags_ms(self) -> list[float]:
        started = self.workload.started_ms
        return [
            sent - started[key]
            for delivery in self.deliveries.values()
            for key, sent in delivery.sent_ms.items()
            if key in started
        ]


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(fraction * 100) - 1]


def render(result: DemoResult) -> str:
    w, f = result.workload, result.fanout
    entity_writes = len(w.entity_writes)
    lags = result.lags_ms()
    lines = [
        "",
        "Prism local pipeline — report",
        "=============================",
        f"items written to DynamoDB        {len(w.writes):>6}   "
        f"({w.count('create')} creates, {w.count('update')} updates, {w.count('tombstone')} soft deletes, "
        f"{w.count('hard-delete')} hard deletes, {w.count('guard')} non-entity guard items)",
        f"stream records read by fanout    {f.stream_records:>6}   "
        f"({f.invocations} invocations, {f.cold_starts} cold start(s), {f.function_errors} function errors)",
        f"envelopes published to SNS       {f.published:>6}   "
        f"(expected {entity_writes}; {f.claim_checks} via S3 claim check)",
        f"non-entity records skipped       {f.skipped:>6}   (counted, not published)",
        f"malformed records                {f.malformed:>6}",
        "",
        "messages per sink queue          received  distinct  missing  duplicates",
    ]
    for sink, delivery in result.deliveries.items():
        mark = "ok" if result.missing(sink) == 0 and not delivery.unreadable else "MISSING"
        lines.append(
            f"  {sink:<30} {delivery.received:>8}  {len(delivery.sent_ms):>8}  {result.missing(sink):>7}  "
            f"{delivery.duplicates:>10}   {mark}"
        )
        lines.extend(f"    unreadable: {problem}" for problem in delivery.unreadable[:5])
    lines += [
        "",
        f"end-to-end lag, table write -> sink queue:  p50 {percentile(lags, 0.50):,.0f} ms   "
        f"p95 {percentile(lags, 0.95):,.0f} ms   max {max(lags, default=float('nan')):,.0f} ms   "
        f"({len(lags)} deliveries)",
        "dead-lettered / failed:  " + ", ".join(f"{name} {count}" for name, count in result.failures.items()),
        "",
        f"result: {'PASS' if result.passed else 'FAIL'} — "
        + (
            "every change reached every sink queue; nothing was dead-lettered"
            if result.passed
            else "see the rows above"
        )
        + f"  ({result.elapsed_s:.1f} s)",
    ]
    return "\n".join(lines)
