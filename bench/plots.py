"""The bar plot the apply benchmarks share: each phase's median rate as a bar, its rounds as dots."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path


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
