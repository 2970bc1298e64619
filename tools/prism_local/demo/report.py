"""The demo's report: what the API answered, what the fanout did, what each sink received, and how fast."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prism_local.demo.api_workload import ApiTraffic
    from prism_local.demo.queues import QueueDelivery


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
class CacheSinkFigures:
    records: int
    applied: int
    stale: int


@dataclass(frozen=True)
class DemoResult:
    traffic: ApiTraffic
    fanout: FanoutFigures
    cache_sink: CacheSinkFigures
    deliveries: dict[str, QueueDelivery]
    failures: dict[str, int]
    elapsed_s: float

    @property
    def expected(self) -> set[tuple[str, str, int]]:
        return set(self.traffic.writes_ms)

    def missing(self, sink: str) -> int:
        return len(self.expected - set(self.deliveries[sink].sent_ms))

    def unexplained(self) -> set[tuple[str, str, int]]:
        """Envelopes delivered that no write of the workload explains."""
        return {key for d in self.deliveries.values() for key in d.sent_ms} - self.expected

    @property
    def passed(self) -> bool:
        delivered = all(self.missing(sink) == 0 and not d.unreadable for sink, d in self.deliveries.items())
        server_errors = sum(count for status, count in self.traffic.statuses.items() if status >= 500)
        cache_sink_complete = self.cache_sink.records >= len(self.expected)
        return (
            delivered
            and cache_sink_complete
            and not server_errors
            and not self.traffic.unexpected
            and not any(self.failures.values())
        )

    def lags_ms(self) -> list[float]:
        started = self.traffic.writes_ms
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
    t, f, c = result.traffic, result.fanout, result.cache_sink
    expected = len(result.expected)
    lags = result.lags_ms()
    statuses = ", ".join(f"{status}: {count}" for status, count in sorted(t.statuses.items()))
    cache = ", ".join(f"{source} {count}" for source, count in sorted(t.cache.items()))
    lines = [
        "",
        "Prism local pipeline — report",
        "=============================",
        f"API requests (HTTP, local start-api) {t.requests:>5}   by status: {statuses}",
        f"API latency                          p50 {percentile(t.latencies_ms, 0.5):,.1f} ms   "
        f"p95 {percentile(t.latencies_ms, 0.95):,.1f} ms",
        f"cache hit ratio on GET by id         {t.hit_ratio:>5.0%}   ({cache})",
        f"successful writes (entity changes)   {expected:>5}",
        f"stream records read by fanout        {f.stream_records:>5}   "
        f"({f.invocations} invocations, {f.cold_starts} cold start(s), {f.function_errors} function errors)",
        f"envelopes published to SNS           {f.published:>5}   "
        f"(expected {expected}; {f.claim_checks} via claim check)",
        f"non-entity records skipped           {f.skipped:>5}   (e.g. email guards; counted, not published)",
        f"malformed records                    {f.malformed:>5}",
        f"cache sink: changes read             {c.records:>5}   ({c.applied} applied, {c.stale} stale and ignored)",
        "",
        "messages per sink queue              received  distinct  missing  duplicates",
    ]
    for sink, delivery in result.deliveries.items():
        mark = "ok" if result.missing(sink) == 0 and not delivery.unreadable else "MISSING"
        lines.append(
            f"  {sink:<34} {delivery.received:>8}  {len(delivery.sent_ms):>8}  {result.missing(sink):>7}  "
            f"{delivery.duplicates:>10}   {mark}"
        )
        lines.extend(f"    unreadable: {problem}" for problem in delivery.unreadable[:5])
    lines += [
        "",
        f"end-to-end lag, API write -> sink queue:  p50 {percentile(lags, 0.50):,.0f} ms   "
        f"p95 {percentile(lags, 0.95):,.0f} ms   max {max(lags, default=float('nan')):,.0f} ms   "
        f"({len(lags)} deliveries)",
        "dead-lettered / failed:  " + ", ".join(f"{name} {count}" for name, count in result.failures.items()),
    ]
    lines.extend(f"unexpected API answer: {problem}" for problem in t.unexpected[:10])
    lines.extend(f"envelope no API write explains: {key}" for key in sorted(result.unexplained())[:10])
    verdict = (
        "every change reached every sink; no 5xx; nothing was dead-lettered" if result.passed else "see the rows above"
    )
    lines += ["", f"result: {'PASS' if result.passed else 'FAIL'} — {verdict}  ({result.elapsed_s:.1f} s)"]
    return "\n".join(lines)
