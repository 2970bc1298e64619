"""What the apply benchmarks report alike: the ratios against their goals, where the sink's time goes, and a
bar plot of each phase's median rate with its rounds as dots."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, Protocol

from bench.api_get import quiet_output

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from pathlib import Path


class TimedPhase(ABC):
    """One way of applying the workload (the sink, or a baseline), run once per round: ``prepare`` (untimed)
    empties its target, ``run`` is timed with the function's output silenced, ``check`` (untimed) proves the
    target holds what it should, so a fast but wrong phase is an error, never a figure."""

    def __init__(self, label: str, changes: int, run: Callable[[], object]) -> None:
        self.label = label
        self.changes = changes  # changes applied per run
        self.run = run
        self.rates: list[float] = []

    @abstractmethod
    def prepare(self) -> None: ...

    @abstractmethod
    def check(self) -> None: ...

    def measure(self) -> float:
        self.prepare()
        with quiet_output():
            started = time.perf_counter()
            self.run()
            elapsed = time.perf_counter() - started
        self.check()
        rate = self.changes / elapsed
        self.rates.append(rate)
        return rate

    @property
    def median(self) -> float:
        return statistics.median(self.rates)


def run_rounds(phases: Mapping[str, TimedPhase], rounds: int) -> None:
    """Every phase once per round, interleaved (so drift on a shared machine hits all alike), each round's
    rates printed."""
    for round_number in range(1, rounds + 1):
        for phase in phases.values():
            phase.measure()
        figures = ", ".join(f"{name} {phase.rates[-1]:,.0f}/s" for name, phase in phases.items())
        print(f"  round {round_number}: {figures}", flush=True)


def print_rates(phases: Mapping[str, TimedPhase]) -> dict[str, float]:
    """Each phase's median rate with its rounds; returns the medians by phase name."""
    rates = {name: phase.median for name, phase in phases.items()}
    for name, phase in phases.items():
        spread = ", ".join(f"{rate:,.0f}" for rate in phase.rates)
        print(f"  {phase.label:<70} {rates[name]:>9,.0f} changes/s   ({spread})")
    return rates


def verdict(ratio: float, goal: float) -> str:
    return "PASS" if ratio >= goal else "MISS"


def print_ratios(phases: Mapping[str, TimedPhase], goal_over_raw: float, goal_over_naive: float) -> tuple[float, float]:
    """sink/(a) and sink/(b) of the medians, each against its goal and per round; returns both ratios."""
    sink, raw, naive = phases["sink"], phases["raw"], phases["naive"]
    over_raw, over_naive = sink_ratios(phases)
    print(
        f"  sink / (a) raw   = {over_raw:6.2f}x   goal >= {goal_over_raw}x: {verdict(over_raw, goal_over_raw)}   "
        f"(per round {per_round(sink.rates, raw.rates, 2)})"
    )
    print(
        f"  sink / (b) naive = {over_naive:6.1f}x   goal >= {goal_over_naive:.0f}x: "
        f"{verdict(over_naive, goal_over_naive)}   (per round {per_round(sink.rates, naive.rates, 1)})"
    )
    return over_raw, over_naive


def median_stages(timed: Sequence[Mapping[str, float]]) -> dict[str, float]:
    """Each stage's median over repeated stage timings."""
    return {label: statistics.median(run[label] for run in timed) for label in timed[0]}


def per_round(numerators: Sequence[float], denominators: Sequence[float], digits: int) -> str:
    """Each round's ratio, e.g. ``0.86x, 0.82x, 0.78x``."""
    return ", ".join(f"{n / d:.{digits}f}x" for n, d in zip(numerators, denominators, strict=True))


def apply_arguments(description: str | None, naive_default: int, naive_unit: str = "changes") -> argparse.Namespace:
    """The command line every apply benchmark takes."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--changes", type=int, default=20_000, help="changes in the workload")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each phase; the median counts")
    parser.add_argument(
        "--naive-sample", type=int, default=naive_default, help=f"{naive_unit} the naive approach is timed on"
    )
    parser.add_argument(
        "--profile", action="store_true", help="show where the sink's time goes even when it meets its goal"
    )
    return parser.parse_args()


def sink_ratios(phases: Mapping[str, RatedPhase]) -> tuple[float, float]:
    """sink/(a) and sink/(b) of the phases' medians."""
    sink = phases["sink"].median
    return sink / phases["raw"].median, sink / phases["naive"].median


def measurement(
    phases: Mapping[str, TimedPhase], goal_over_raw: float, goal_over_naive: float, naive_unit: str = "changes"
) -> dict[str, Any]:
    """What every apply benchmark records of a run: rounds, CPUs, each phase's rates, the naive sample, and
    the two ratios with their goals."""
    over_raw, over_naive = sink_ratios(phases)
    return {
        "rounds": len(phases["sink"].rates),
        "cpus": os.cpu_count(),
        "rates_changes_per_s": {name: {"median": phase.median, "runs": phase.rates} for name, phase in phases.items()},
        f"naive_sample_{naive_unit}": phases["naive"].changes,
        "ratios": {"sink_over_raw": over_raw, "sink_over_naive": over_naive},
        "goals": {
            "sink_over_raw": {"goal": goal_over_raw, "met": over_raw >= goal_over_raw},
            "sink_over_naive": {"goal": goal_over_naive, "met": over_naive >= goal_over_naive},
        },
    }


def write_results(
    directory: Path,
    name: str,
    results: Mapping[str, Any],
    phases: Mapping[str, RatedPhase],
    *,
    subject: str,
    ylabel: str,
) -> None:
    """``<name>.json`` and a plot ``<name>.png`` titled ``subject`` and each ratio against its goal (from
    ``results``) in ``directory``, and a line saying where they are."""
    over_raw, over_naive = sink_ratios(phases)
    goals = results["goals"]
    title = (
        f"{subject}: sink/(a) raw {over_raw:.2f}x (goal >= {goals['sink_over_raw']['goal']}x), sink/(b) naive "
        f"{over_naive:.1f}x (goal >= {goals['sink_over_naive']['goal']:.0f}x)"
    )
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{name}.json").write_text(json.dumps(results, indent=2))
    rate_bars(phases, title, ylabel, directory / f"{name}.png")
    print(f"  results: {directory / f'{name}.json'}, {directory / f'{name}.png'}")


def stage_breakdown(
    stages: Mapping[str, float], sink_us: float, raw_us: float, rounds: int, rest: str
) -> dict[str, Any]:
    """Print where the sink's time per change goes (each stage timed alone, median of ``rounds``; ``rest``
    says what the remainder is), and return it for the results file."""
    print(f"  where the sink's {sink_us:,.1f} µs per change go ((a) raw takes {raw_us:,.1f} µs per change):")
    for label, micros in stages.items():
        print(f"    {micros:>7.1f} µs  {label}, timed alone (median of {rounds})")
    remainder = sink_us - sum(stages.values())
    print(f"    {remainder:>7.1f} µs  the rest: {rest}")
    return {
        "sink_us_per_change": sink_us,
        "raw_us_per_change": raw_us,
        "stages_us_per_change": dict(stages) | {"the rest": remainder},
    }


class RatedPhase(Protocol):
    label: str
    rates: list[float]

    @property
    def median(self) -> float: ...


def rate_bars(phases: Mapping[str, RatedPhase], title: str, ylabel: str, path: Path) -> None:
    """Bars of the phases' medians (log scale) with every round as a dot, saved as a PNG at ``path``."""
    import matplotlib  # noqa: PLC0415 - only the plot needs it, and it is slow to import

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    figure, axes = plt.subplots(figsize=(10, 5.5))
    names = list(phases)
    medians = [phases[n].median for n in names]
    bars = axes.bar(range(len(names)), medians, color=["#4c72b0", "#55a868", "#c44e52"][: len(names)])
    axes.bar_label(bars, labels=[f"{rate:,.0f}/s" for rate in medians], fontsize=9, padding=2)
    for position, name in enumerate(names):
        rounds = phases[name].rates
        axes.scatter([position] * len(rounds), rounds, color="black", s=12, zorder=3)
    axes.set_yscale("log")
    axes.set_ylabel(f"{ylabel} (bars: median; dots: rounds; log scale)")
    labels = [phases[n].label.replace(": ", ":\n", 1).replace(" (", "\n(", 1) for n in names]
    axes.set_xticks(list(range(len(names))), labels, fontsize=8)
    axes.grid(axis="y", which="both", alpha=0.3)
    figure.suptitle(title, fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
