"""Writing the results: the Markdown table, latest.json, the README block, and the run's header
(date, machine, toolchain, source, command)."""
import datetime
import json
import os
import platform
import re
import subprocess
from pathlib import Path

from . import results, spec
from .runner import Cell

README_BEGIN, README_END = "<!-- bench:begin -->", "<!-- bench:end -->"

# ---------------------------------------------------------------------------------------------
# Where and how the run happened
# ---------------------------------------------------------------------------------------------


def first_line(argv):
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=10)
        return (out.stdout or out.stderr).splitlines()[0].strip()
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "?"


def cpu_model():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def mem_gib():
    try:
        kib = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
        return f"{kib / 2**20:.1f} GiB RAM"
    except (OSError, AttributeError):
        return "? RAM"


def boost_version():
    try:
        text = Path("/usr/include/boost/version.hpp").read_text()
        return "Boost " + re.search(r'BOOST_LIB_VERSION "([\d_]+)"', text).group(1).replace("_", ".")
    except (OSError, AttributeError):
        return "Boost ?"


def source_version(root):
    head = first_line(["git", "-C", str(root), "rev-parse", "--short", "HEAD"])
    dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip()
    return f"git {head}" + (" + uncommitted changes" if dirty else "")


def run_info(root, command, runs):
    """The header of a run, as stored in latest.json."""
    cores, usable = os.cpu_count(), len(os.sched_getaffinity(0))
    cores_text = f"{cores} cores" + (f" ({usable} usable)" if usable != cores else "")
    go = first_line(["go", "version"]).split()
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{cpu_model()}, {cores_text}, {mem_gib()}, Linux {platform.release()}",
        "toolchain": ", ".join([first_line(["g++", "--version"]),
                                go[2] if len(go) > 2 else "go ?", boost_version(),
                                " ".join(first_line(["wrk", "-v"]).split()[:2])]),
        "source": source_version(root),
        "command": command,
        "runs": runs,
    }


# ---------------------------------------------------------------------------------------------
# Numbers
# ---------------------------------------------------------------------------------------------


def fmt_num(v):
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    if abs(v) >= 100:
        return f"{v:.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def fmt_ratio(r):
    if r >= 10:
        return f"{r:.0f}×"
    if r >= 0.1:
        return f"{r:.2f}×"
    return f"{r:.2g}×"


def fmt_value(v):
    if v.status == "ok":
        return fmt_num(v.value)
    return "**FAIL**" if v.status == "failed" else "—"


# ---------------------------------------------------------------------------------------------
# Markdown
# ---------------------------------------------------------------------------------------------


def results_table(rows, runtimes):
    peers = runtimes[1:]
    head = ["Workload", "Unit"] + [rt.name for rt in runtimes] + [f"goro/{p.name}" for p in peers]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * 2 + "---:|" * (len(head) - 2)]
    for row in rows:
        up = " ↑" if row.figure.higher_is_better else ""
        cells = [row.figure.label, row.figure.unit + up]
        cells += [fmt_value(row.values[rt.key]) for rt in runtimes]
        cells += [fmt_ratio(row.ratios[p.key]) + up if row.ratios[p.key] is not None else "—"
                  for p in peers]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def legend(runs):
    return (f"Median of {runs} run{'s' if runs != 1 else ''} each. Ratios are goro / peer: below 1× "
            "goro is ahead. Rows marked ↑ are throughputs or speedups, where higher is better "
            "and above 1× goro is ahead.")


def notes(cells, runtimes):
    """Why cells show —: one line per runtime and reason, listing the workloads."""
    workload = {c.id: c.workload for c in spec.CASES}
    grouped = {}   # (runtime name, note) -> workloads, in runtime then case order
    for rt in runtimes:
        for cid, by_rt in cells.items():
            if by_rt[rt.key].status == "unsupported":
                grouped.setdefault((rt.name, by_rt[rt.key].note), {})[workload[cid]] = None
    return "\n".join(f"- — {name}: {', '.join(ws)}: {note}." for (name, note), ws in grouped.items())


def bars_table(verdicts):
    lines = ["| Bar | Measured | Result |", "|---|---:|---|"]
    for v in verdicts:
        if v.measured is None:
            measured = "—"
        else:
            measured = fmt_ratio(v.measured) if v.peer else fmt_num(v.measured)
        result = {"PASS": "PASS", "FAIL": "**FAIL**", "run failed": "**run failed**"}.get(v.result, v.result)
        lines.append(f"| {v.describe()} | {measured} | {result} |")
    return "\n".join(lines) + "\n\n" + bars_summary(verdicts) + "."


def bars_summary(verdicts):
    """e.g. '**10 of 18 bars met** (7 not measured yet, 1 not judged: a run failed)'."""
    count = {r: sum(v.result == r for v in verdicts) for r in ("PASS", "not measured", "run failed")}
    summary = f"**{count['PASS']} of {len(verdicts)} bars met**"
    extra = []
    if count["not measured"]:
        extra.append(f"{count['not measured']} not measured yet")
    if count["run failed"]:
        extra.append(f"{count['run failed']} not judged: a run failed")
    return summary + (f" ({', '.join(extra)})" if extra else "")


def failures_section(fails):
    if not fails:
        return ""
    out = ["## Failures", "", f"{len(fails)} run(s) failed; their cells show FAIL.", ""]
    for cid, name, msg in fails:
        first, _, rest = msg.partition("\n")
        out.append(f"- **{cid}, {name}**, {first}")
        if rest.strip():
            out += ["", "  ```", *("  " + l for l in rest.splitlines()), "  ```"]
    return "\n".join(out) + "\n"


def header_table(info):
    rows = [("Date", info["date"]), ("Machine", info["machine"]), ("Toolchain", info["toolchain"]),
            ("Source", info["source"]), ("Command", f"`{info['command']}`"),
            ("Method", "runs interleaved (goro, Go, Boost.Fiber, then again), one benchmark "
                       "process at a time; the median of each is shown")]
    return "\n".join(["| | |", "|---|---|"] + [f"| {k} | {v} |" for k, v in rows])


def markdown(info, cells, runtimes, chart_name):
    rows = results.table(cells, runtimes)
    parts = [
        "# goro benchmarks: latest run", "",
        header_table(info), "",
        "## Results", "",
        results_table(rows, runtimes), "",
        legend(info["runs"]), "",
        notes(cells, runtimes), "",
        f"![goro / peer, lower is better]({chart_name})", "",
        "## Bars", "",
        "The targets of the issues, judged on the medians of this run.", "",
        bars_table(results.verdicts(rows)), "",
        failures_section(results.failures(cells, runtimes)),
    ]
    return "\n".join(parts).rstrip() + "\n"


def readme_block(info, cells, runtimes, results_dir):
    rows = results.table(cells, runtimes)
    verdicts = results.verdicts(rows)
    met = sum(v.result == "PASS" for v in verdicts)
    return "\n".join([
        README_BEGIN,
        f"Measured {info['date']} on {info['machine']} with `{info['command']}` "
        f"({info['source']}). Bars ({met} of {len(verdicts)} met), details and raw samples: "
        f"[{results_dir}/latest.md]({results_dir}/latest.md).", "",
        results_table(rows, runtimes), "",
        legend(info["runs"]), "",
        notes(cells, runtimes), "",
        f"![goro / peer, lower is better]({results_dir}/latest.svg)",
        README_END,
    ]).replace("\n\n\n", "\n\n")


def update_readme(readme, block):
    """Replaces the text between the bench markers (appends a Benchmarks section without them)."""
    text = readme.read_text()
    begin, end = text.find(README_BEGIN), text.find(README_END)
    if begin != -1 and end > begin:
        text = text[:begin] + block + text[end + len(README_END):]
    else:
        text = text.rstrip("\n") + "\n\n## Benchmarks\n\n" + block + "\n"
    readme.write_text(text)


# ---------------------------------------------------------------------------------------------
# JSON
# ---------------------------------------------------------------------------------------------


def to_json(info, cells, runtimes):
    """Everything: the header, every sample, and the table and bars computed from them."""
    rows = results.table(cells, runtimes)
    case_by_id = {c.id: c for c in spec.CASES}
    return {
        **info,
        "runtimes": {rt.key: rt.name for rt in runtimes},
        "cases": {cid: {"workload": case_by_id[cid].workload, "args": list(case_by_id[cid].args),
                        "results": {k: cell.to_json() for k, cell in by_rt.items()}}
                  for cid, by_rt in cells.items()},
        "table": [{"figure": r.figure.key, "label": r.figure.label, "unit": r.figure.unit,
                   "higher_is_better": r.figure.higher_is_better,
                   "values": {k: v.value for k, v in r.values.items()}, "ratios": r.ratios}
                  for r in rows],
        "bars": [{"figure": v.figure.key, "peer": v.peer, "op": v.op, "limit": v.limit,
                  "measured": v.measured, "result": v.result} for v in results.verdicts(rows)],
    }


def from_json(data):
    """(info, cells) back from latest.json, to render again without running."""
    info = {k: data[k] for k in ("date", "machine", "toolchain", "source", "command", "runs")}
    cells = {cid: {k: Cell.from_json(d) for k, d in case["results"].items()}
             for cid, case in data["cases"].items()}
    return info, cells


def write_json(path, info, cells, runtimes):
    path.write_text(json.dumps(to_json(info, cells, runtimes), indent=1, ensure_ascii=False) + "\n")
