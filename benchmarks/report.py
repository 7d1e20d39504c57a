"""One row per figure: the plugin's number, its baseline's number, their ratio, the target, and the verdict.

Every figure is a ratio against a baseline measured in the same run on the same machine, so the table means
the same thing on a laptop and on a CI runner; the absolute numbers stand alongside for context only.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

__all__ = ["Figure", "at_least", "at_most", "exactly", "figure", "markdown_table", "report_only"]


@dataclass(frozen=True)
class Figure:
    """One measured figure. `met` is None for a figure that is reported, not judged."""

    name: str
    value: float
    baseline: float
    unit: str
    baseline_name: str
    target: str
    met: bool | None
    #: Extra context shown under the table (how it was measured, what else was seen).
    note: str = ""

    @property
    def ratio(self) -> float:
        return self.value / self.baseline if self.baseline else math.inf


Judge = Callable[[float, float], tuple[str, bool | None]]


def at_least(limit: float) -> Judge:
    """Met when value / baseline >= limit (throughput)."""
    return lambda value, baseline: (f">= {limit:g}x", value / baseline >= limit)


def at_most(limit: float) -> Judge:
    """Met when value / baseline <= limit (latency, start-up time, memory)."""
    return lambda value, baseline: (f"<= {limit:g}x", value / baseline <= limit)


def exactly(count: float) -> Judge:
    """Met when the value itself is exactly `count` (upstream calls)."""
    return lambda value, baseline: (f"exactly {count:g}", value == count)


def report_only(value: float, baseline: float) -> tuple[str, bool | None]:
    return "report", None


def figure(
    name: str, value: float, baseline: float, *, unit: str, baseline_name: str, judge: Judge, note: str = ""
) -> Figure:
    """A `Figure` whose target and verdict come from `judge(value, baseline)`."""
    target, met = judge(value, baseline)
    return Figure(name, value, baseline, unit, baseline_name, target, met, note)


def _number(value: float, unit: str) -> str:
    if math.isnan(value):
        return "failed"
    if unit == "ms":
        return f"{value:.2f} ms"
    if unit == "s":
        return f"{value:.2f} s"
    if unit == "MB":
        return f"{value:.1f} MB"
    if unit == "req/s":
        return f"{value:,.0f} req/s"
    return f"{value:,.0f} {unit}".rstrip()


def _verdict(met: bool | None) -> str:
    return {True: "yes", False: "**NO**", None: "-"}[met]


def markdown_table(figures: Sequence[Figure]) -> str:
    """The figures as a GitHub-flavoured Markdown table (it reads fine in a terminal, too)."""
    rows = [
        "| Figure | Plugin | Baseline | Ratio | Target | Met |",
        "|---|---:|---|---:|---|:---:|",
    ]
    for f in figures:
        rows.append(
            f"| {f.name} | {_number(f.value, f.unit)} | {f.baseline_name}: {_number(f.baseline, f.unit)} "
            f"| {'-' if math.isnan(f.ratio) else f'{f.ratio:.2f}x'} | {f.target} | {_verdict(f.met)} |"
        )
    return "\n".join(rows)
