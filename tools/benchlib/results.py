"""From raw cells to the table: medians, figures, goro/peer ratios and bar verdicts."""
import statistics
from dataclasses import dataclass
from typing import Optional

from . import spec


@dataclass
class Value:
    """One table cell: a figure for one runtime, or why there is none."""
    value: Optional[float]
    status: str          # "ok" | "failed" | "unsupported" | "not run"
    note: str = ""


def medians(cell):
    """{metric: median over the cell's samples}."""
    metrics = set.intersection(*(set(s) for s in cell.samples)) if cell.samples else ()
    return {m: statistics.median(s[m] for s in cell.samples) for m in metrics}


def figure_value(fig, cells, rt_key):
    """The figure for one runtime, from the medians of the cases it needs."""
    needed = [cells[cid][rt_key] for cid in fig.cases]
    for status in ("failed", "unsupported", "not run"):   # the worst status wins
        bad = [c for c in needed if c.status == status]
        if bad:
            return Value(None, status, bad[0].note)
    med = {cid: medians(cells[cid][rt_key]) for cid in fig.cases}
    return Value(fig.value(med), "ok")


def ratio(goro, peer):
    """goro / peer, or None without two positive figures."""
    if goro.status == "ok" and peer.status == "ok" and goro.value > 0 and peer.value > 0:
        return goro.value / peer.value
    return None


@dataclass
class Row:
    figure: spec.Figure
    values: dict         # runtime key -> Value
    ratios: dict         # peer key -> goro/peer ratio or None


def table(cells, runtimes):
    """The rows for every figure whose cases were all run."""
    rows = []
    for fig in spec.FIGURES:
        if not all(cid in cells for cid in fig.cases):
            continue
        values = {rt.key: figure_value(fig, cells, rt.key) for rt in runtimes}
        goro = values[runtimes[0].key]
        ratios = {rt.key: ratio(goro, values[rt.key]) for rt in runtimes[1:]}
        rows.append(Row(fig, values, ratios))
    return rows


@dataclass
class Verdict:
    figure: spec.Figure
    peer: Optional[str]
    op: str
    limit: float
    measured: Optional[float]
    result: str          # "PASS" | "FAIL" | "run failed" | "not measured"

    def describe(self):
        """e.g. 'spawn: goro/Go ≤ 0.5×' or 'fib speedup 2 vs 1: goro ≥ 1.7'."""
        sign = "≤" if self.op == "<=" else "≥"
        if self.peer is None:
            return f"{self.figure.label}: goro {sign} {self.limit:g}"
        return f"{self.figure.label}: goro/{spec.runtime(self.peer).name} {sign} {self.limit:g}×"


def verdicts(rows):
    """Each bar of spec.BARS whose figure is in the table, judged on this run."""
    by_key = {row.figure.key: row for row in rows}
    out = []
    for key, peer, op, limit in spec.BARS:
        row = by_key.get(key)
        if row is None:
            continue
        if peer is None:
            goro = row.values[spec.RUNTIMES[0].key]
            measured = goro.value if goro.status == "ok" else None
        else:
            measured = row.ratios.get(peer)
        if measured is None:
            involved = [row.values[spec.RUNTIMES[0].key]] + ([row.values[peer]] if peer else [])
            result = "run failed" if any(v.status == "failed" for v in involved) else "not measured"
        else:
            met = measured <= limit if op == "<=" else measured >= limit
            result = "PASS" if met else "FAIL"
        out.append(Verdict(row.figure, peer, op, limit, measured, result))
    return out


def failures(cells, runtimes):
    """[(case id, runtime name, message)] for every failed run."""
    names = {rt.key: rt.name for rt in runtimes}
    return [(cid, names[k], msg) for cid, by_rt in cells.items() for k, cell in by_rt.items()
            for msg in cell.failures]
