"""Turning samples into the markdown tables of RESULTS.md: medians, ranges, CPU cost, ratios."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from scenarios import CLIENTS, HERON_CLIENTS, Scenario

__all__ = ["Row", "Sample", "Summary", "ratio_table", "scenario_table", "summarize"]


@dataclass(frozen=True)
class Sample:
    """One measurement from one worker process (or its error)."""

    operations: int = 0
    units: float = 0.0  # requests, or MiB moved
    elapsed: float = 0.0
    cpu: float = 0.0
    server_cpu: float = 0.0
    error: str | None = None

    @property
    def throughput(self) -> float:
        return self.units / self.elapsed

    @property
    def cpu_per_unit(self) -> float:
        return self.cpu / self.units


@dataclass(frozen=True)
class Row:
    """A line of a table: a client, maybe with extra environment (a heron variant)."""

    label: str
    client: str
    env: dict[str, str] = field(default_factory=dict)

    @property
    def is_heron(self) -> bool:
        return self.client in HERON_CLIENTS


@dataclass(frozen=True)
class Summary:
    """A row's samples and their medians (over the runs that succeeded)."""

    row: Row
    samples: list[Sample]

    @property
    def good(self) -> list[Sample]:
        return [s for s in self.samples if s.error is None and s.units > 0]

    @property
    def errors(self) -> list[str]:
        return [s.error for s in self.samples if s.error is not None]

    @property
    def ok(self) -> bool:
        return bool(self.good)

    @property
    def throughput(self) -> float:
        return statistics.median(s.throughput for s in self.good)

    @property
    def cpu_per_unit(self) -> float:
        return statistics.median(s.cpu_per_unit for s in self.good)

    @property
    def client_cpu_share(self) -> float:
        return statistics.median(s.cpu / s.elapsed for s in self.good)

    @property
    def server_cpu_share(self) -> float:
        return statistics.median(s.server_cpu / s.elapsed for s in self.good)


def summarize(rows: list[Row], samples: dict[str, list[Sample]]) -> list[Summary]:
    return [Summary(row, samples.get(row.label, [])) for row in rows]


def _cpu_cost(summary: Summary, unit: str) -> str:
    """Milliseconds of client CPU per request, or seconds per GiB moved."""
    if unit == "req":
        return f"{summary.cpu_per_unit * 1000:.3f}"
    return f"{summary.cpu_per_unit * 1024:.2f}"


def _ratio(heron: Summary, peer: Summary) -> str:
    if heron.row.label == peer.row.label:
        return "—"
    if not (heron.ok and peer.ok):
        return "n/a"
    speed = heron.throughput / peer.throughput
    cpu = heron.cpu_per_unit / peer.cpu_per_unit
    return f"{speed:.2f}x (CPU {cpu:.2f}x)"


def scenario_table(scenario: Scenario, summaries: list[Summary], reps: int, quick: bool) -> str:
    """The markdown section for one scenario."""
    count, limit = scenario.budget(quick)
    unit = scenario.unit
    what = "requests" if unit == "req" else "transfers"
    lines = [
        f"### `{scenario.name}`: {scenario.title}",
        "",
        f"{count:,} {what} per measurement (stopped early at {limit:g} s); {reps} interleaved "
        "repetitions, each client in a fresh process; medians.",
        "",
    ]
    herons = [s for s in summaries if s.row.is_heron]
    speed_unit = "req/s" if unit == "req" else "MiB/s"
    cost_unit = "CPU ms/req" if unit == "req" else "CPU s/GiB"
    header = [
        "client",
        speed_unit,
        "min–max",
        cost_unit,
        "client CPU",
        "server CPU",
        *(f"{h.row.label} ÷ this" for h in herons),
    ]
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|")
    for summary in summaries:
        if not summary.ok:
            error = summary.errors[0] if summary.errors else "not run"
            cells = [summary.row.label, f"unavailable: {_escape(error)}"]
            cells += [""] * (len(header) - 2)
            lines.append("| " + " | ".join(cells) + " |")
            continue
        values = [s.throughput for s in summary.good]
        cells = [
            summary.row.label,
            f"{summary.throughput:,.0f}",
            f"{min(values):,.0f}–{max(values):,.0f}",
            _cpu_cost(summary, unit),
            f"{summary.client_cpu_share:.0%}",
            f"{summary.server_cpu_share:.0%}",
            *(_ratio(h, summary) for h in herons),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    failures = [
        f"- {s.row.label}: {len(s.errors)} of {len(s.samples)} runs failed: {_escape(s.errors[0])}"
        for s in summaries
        if s.ok and s.errors
    ]
    if failures:
        lines += ["", *failures]
    return "\n".join(lines) + "\n"


def _escape(text: str, limit: int = 300) -> str:
    text = text.replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def ratio_table(results: list[tuple[Scenario, list[Summary]]]) -> str:
    """One line per scenario and heron row: heron ÷ each peer, throughput (and CPU per unit)."""
    peers = [c for c in CLIENTS if c not in HERON_CLIENTS]
    peers = [p for p in peers if any(s.row.label == p for _, sums in results for s in sums)]
    lines = [
        "## heron ÷ peer",
        "",
        "Throughput ratio (above 1: heron is faster), then client CPU per request or per GiB "
        "(below 1: heron is cheaper). Medians from the tables below.",
        "",
        "| scenario | heron | " + " | ".join(peers) + " |",
        "|---|---|" + "---:|" * len(peers),
    ]
    for scenario, summaries in results:
        by_label = {s.row.label: s for s in summaries}
        for heron in (s for s in summaries if s.row.is_heron):
            cells = [_ratio(heron, by_label[p]) if p in by_label else "" for p in peers]
            if not heron.ok:
                cells = ["unavailable" if p in by_label else "" for p in peers]
            lines.append(f"| {scenario.name} | {heron.row.label} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
