"""The chart: a hand-written SVG with one row per figure and one horizontal bar per peer, drawn
from the 1× line to goro/peer on a log scale, so that a bar to the left means goro is ahead.
Throughputs are drawn inverted (time per message = peer rate / goro rate) so that left is always
better; the issues' targets are drawn as black ticks."""
import math
from xml.sax.saxutils import escape

from . import results, spec
from .report import fmt_ratio

WIDTH = 980
LABEL_RIGHT = 250            # row labels end here
PLOT_LEFT, PLOT_RIGHT = 265, WIDTH - 25
TOP = 122                    # first row
ROW = 40                     # row height: two bars of BAR px
BAR = 13
COLORS = {"go": "#00A4CC", "boostfiber": "#E8772E"}
FALLBACK_COLORS = ["#7A5CC2", "#4C9A2A"]
FONT = "DejaVu Sans, Helvetica, Arial, sans-serif"


def cost(fig, r):
    """A goro/peer ratio as a cost ratio (lower is better)."""
    return 1 / r if fig.higher_is_better else r


def targets(fig_key):
    """{peer key: target as a cost ratio} for the bars on this figure."""
    fig = spec.figure(fig_key)
    return {peer: cost(fig, limit) for key, peer, op, limit in spec.BARS if key == fig_key and peer}


def domain(values):
    """Log10 bounds covering the values and 1×, widened for the value labels and snapped out to
    1-2-5 ticks."""
    logs = [math.log10(v) for v in values if v > 0] + [math.log10(0.5), math.log10(2)]
    a, b = min(logs), max(logs)
    pad = (b - a) * 70 / (PLOT_RIGHT - PLOT_LEFT - 140)
    a, b = a - pad, b + pad
    return math.log10(max(tick_values(a - 1, a))), math.log10(min(tick_values(b, b + 1)))


def tick_values(a, b, multiples=(1, 2, 5)):
    """The values m×10^k (m in multiples) whose log10 lies in [a, b]."""
    out = []
    for k in range(math.floor(a) - 1, math.ceil(b) + 1):
        for m in multiples:
            v = m * 10.0 ** k
            if a - 1e-9 <= math.log10(v) <= b + 1e-9:
                out.append(v)
    return out


def tick_label(v):
    return f"{v:g}×"


def text(x, y, s, size=12, anchor="start", weight="normal", fill="#222", extra=""):
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" '
            f'font-weight="{weight}" fill="{fill}" {extra}>{escape(s)}</text>')


class Scale:
    """Log-scale x positions for ratios, over the domain of the plotted values."""

    def __init__(self, values):
        self.a, self.b = domain(values)

    def x(self, v):
        return PLOT_LEFT + (math.log10(v) - self.a) / (self.b - self.a) * (PLOT_RIGHT - PLOT_LEFT)


def svg(info, cells, runtimes):
    """The whole chart, as SVG text."""
    rows = [r for r in results.table(cells, runtimes) if r.figure.chart]
    peers = runtimes[1:]
    colors = {p.key: COLORS.get(p.key, FALLBACK_COLORS[i % 2]) for i, p in enumerate(peers)}
    plotted = [cost(r.figure, r.ratios[p.key]) for r in rows for p in peers if r.ratios[p.key]]
    plotted += [t for r in rows for t in targets(r.figure.key).values()]
    scale = Scale(plotted)
    bottom = TOP + len(rows) * ROW
    height = bottom + 62
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
           f'viewBox="0 0 {WIDTH} {height}" font-family="{FONT}">',
           f'<rect width="{WIDTH}" height="{height}" fill="white"/>']
    out += header(info, peers, colors)
    out += grid(scale, bottom)
    for i, row in enumerate(rows):
        out += draw_row(row, TOP + i * ROW, i % 2 == 1, scale, runtimes[0], peers, colors)
    one = scale.x(1.0)
    out.append(f'<line x1="{one:.1f}" y1="{TOP}" x2="{one:.1f}" y2="{bottom + 4}" stroke="#111" stroke-width="1.5"/>')
    out.append(text(20, bottom + 40, "Each bar runs from 1× (same as the peer) to goro / peer. Throughputs are "
                    "drawn as time per message or request (peer rate / goro rate).", 11, fill="#555"))
    out.append("</svg>")
    return "\n".join(out) + "\n"


def header(info, peers, colors):
    """Title, run line and legend."""
    out = [text(20, 30, "goro against its peers: goro / peer, lower is better (log scale)", 18, weight="bold"),
           text(20, 52, f"{info['date']} · {info['machine']} · median of {info['runs']} run(s)", 12, fill="#555")]
    lx = 20
    for p in peers:
        out.append(f'<rect x="{lx}" y="66" width="14" height="14" fill="{colors[p.key]}"/>')
        out.append(text(lx + 20, 78, f"goro / {p.name}", 13))
        lx += 40 + 8 * len(p.name) + 60
    out.append(f'<rect x="{lx + 5}" y="63" width="3" height="20" fill="#111"/>')
    out.append(text(lx + 16, 78, "target from the issues", 13))
    return out


def grid(scale, bottom):
    """Background (green where goro is ahead, red where behind), grid lines and tick labels:
    1-2-5 while they fit, else powers of ten only."""
    one = scale.x(1.0)
    out = [f'<rect x="{PLOT_LEFT}" y="{TOP}" width="{one - PLOT_LEFT:.1f}" height="{bottom - TOP}" fill="#EEF7EE"/>',
           f'<rect x="{one:.1f}" y="{TOP}" width="{PLOT_RIGHT - one:.1f}" height="{bottom - TOP}" fill="#FBEFEF"/>',
           text(one - 8, TOP - 24, "← goro ahead", 12, "end", "bold", "#2E7D32"),
           text(one + 8, TOP - 24, "goro behind →", 12, "start", "bold", "#C62828")]
    px_per_decade = (PLOT_RIGHT - PLOT_LEFT) / (scale.b - scale.a)
    labelled = tick_values(scale.a, scale.b, (1, 2, 5) if px_per_decade >= 200 else (1,))
    for t in tick_values(scale.a, scale.b):
        tx = scale.x(t)
        major = t in labelled
        out.append(f'<line x1="{tx:.1f}" y1="{TOP}" x2="{tx:.1f}" y2="{bottom}" '
                   f'stroke="{"#c4c4c4" if major else "#e2e2e2"}" stroke-width="1"/>')
        if major:
            for ty in (TOP - 6, bottom + 16):
                out.append(text(tx, ty, tick_label(t), 11, "middle", fill="#555"))
    return out


def draw_row(row, y0, shaded, scale, goro_rt, peers, colors):
    """One figure: its label, one bar per peer with its value and target, or why there is none."""
    out = []
    if shaded:
        out.append(f'<rect x="0" y="{y0}" width="{PLOT_LEFT}" height="{ROW}" fill="#F4F4F4"/>')
    out.append(text(LABEL_RIGHT, y0 + ROW / 2 + 4, row.figure.chart_label or row.figure.label, 13, "end"))
    goal = targets(row.figure.key)
    goro = row.values[goro_rt.key]
    if goro.status != "ok":   # no bars at all: say why once
        out.append(text(PLOT_LEFT + 8, y0 + ROW / 2 + 4, f"goro: {why(goro, True)}", 12,
                        fill="#777", extra='font-style="italic"'))
    one = scale.x(1.0)
    for j, p in enumerate(peers):
        by = y0 + 6 + j * (BAR + 2)
        r = row.ratios[p.key]
        if r is None:
            if goro.status == "ok":
                out.append(text(PLOT_LEFT + 8, by + BAR - 2, f"{p.name}: {why(row.values[p.key], False)}",
                                11, fill="#777", extra='font-style="italic"'))
            continue
        c = cost(row.figure, r)
        xc = scale.x(c)
        x0, x1 = sorted((one, xc))
        out.append(f'<rect x="{x0:.1f}" y="{by}" width="{max(x1 - x0, 1.5):.1f}" height="{BAR}" '
                   f'fill="{colors[p.key]}"/>')
        if c < 1:
            out.append(text(xc - 4, by + BAR - 2, fmt_ratio(c), 11, "end"))
        else:
            out.append(text(xc + 4, by + BAR - 2, fmt_ratio(c), 11))
        if p.key in goal:
            gx = scale.x(goal[p.key])
            out.append(f'<rect x="{gx - 1.5:.1f}" y="{by - 2}" width="3" height="{BAR + 4}" fill="#111"/>')
    out.append(f'<line x1="0" y1="{y0 + ROW}" x2="{WIDTH}" y2="{y0 + ROW}" stroke="#e4e4e4"/>')
    return out


def why(value, is_goro):
    """A short reason for a missing figure."""
    if value.status == "failed":
        return "FAILED (see latest.md)"
    if "load generator" in value.note:
        return "no load generator yet (goro_bench echo-client)"
    if value.note.startswith("not built"):
        return "not built yet"
    if "exit 3" in value.note:
        return "not supported yet (exit 3)" if is_goro else "not supported (exit 3)"
    return value.note or value.status
