"""A self-contained HTML report of a run: plots drawn as inline SVG, no script, no network.

Plots: latency percentiles per window (log scale), offered / sent / completed rates, errors per
window. Windows flagged slow or generator-bound are shaded in every plot and listed in a table.
"""

from __future__ import annotations

import html
import json
import math

WIDTH, HEIGHT, PAD_L, PAD_R, PAD_T, PAD_B = 860, 260, 64, 150, 16, 36
COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"]


def _ticks(lo: float, hi: float, log: bool) -> list[float]:
    if log:
        return [10.0 ** e for e in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1)]
    step = 10 ** math.floor(math.log10(max(hi - lo, 1e-9)))
    while (hi - lo) / step > 8:
        step *= 2
    return [lo + i * step for i in range(int((hi - lo) / step) + 1)]


def _fmt(v: float) -> str:
    return f"{v:g}" if abs(v) < 1e5 else f"{v:.2g}"


def line_chart(chart_id: str, title: str, x: list[float], series: dict[str, list], y_label: str,
               shade: list[int] = (), log: bool = False) -> str:
    """One SVG line chart; ``series`` maps a name to y values (None leaves a gap)."""
    values = [v for ys in series.values() for v in ys if v is not None and (v > 0 or not log)]
    x_lo, x_hi = (min(x), max(x) + 1) if x else (0, 1)
    if log:
        y_lo, y_hi = (min(values), max(values)) if values else (1, 10)
        y_lo, y_hi = 10 ** math.floor(math.log10(y_lo)), 10 ** math.ceil(math.log10(y_hi) + 1e-9)
    else:
        y_lo, y_hi = 0.0, (max(values) * 1.1 if values and max(values) > 0 else 1.0)
    inner_w, inner_h = WIDTH - PAD_L - PAD_R, HEIGHT - PAD_T - PAD_B

    def px(v): return PAD_L + (v - x_lo) / (x_hi - x_lo) * inner_w

    def py(v):
        frac = (math.log10(v) - math.log10(y_lo)) / (math.log10(y_hi) - math.log10(y_lo)) if log \
            else (v - y_lo) / (y_hi - y_lo)
        return PAD_T + inner_h * (1 - frac)

    parts = [f'<svg id="{chart_id}" class="chart" xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" '
             f'height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{html.escape(title)}">',
             f'<title>{html.escape(title)}</title>']
    for w in shade:
        parts.append(f'<rect class="flag" x="{px(w):.1f}" y="{PAD_T}" width="{px(w + 1) - px(w):.1f}" '
                     f'height="{inner_h}" fill="#f4cccc"/>')
    for t in _ticks(y_lo, y_hi, log):
        if y_lo <= t <= y_hi:
            parts.append(f'<line x1="{PAD_L}" x2="{WIDTH - PAD_R}" y1="{py(t):.1f}" y2="{py(t):.1f}" stroke="#ddd"/>'
                         f'<text x="{PAD_L - 6}" y="{py(t) + 4:.1f}" text-anchor="end" font-size="11">{_fmt(t)}</text>')
    for t in _ticks(x_lo, x_hi, False):
        parts.append(f'<text x="{px(t):.1f}" y="{HEIGHT - PAD_B + 16}" text-anchor="middle" font-size="11">{_fmt(t)}</text>')
    parts.append(f'<text x="{PAD_L + inner_w / 2}" y="{HEIGHT - 4}" text-anchor="middle" font-size="12">seconds</text>'
                 f'<text x="14" y="{PAD_T + inner_h / 2}" transform="rotate(-90 14 {PAD_T + inner_h / 2})" '
                 f'text-anchor="middle" font-size="12">{html.escape(y_label)}</text>'
                 f'<rect x="{PAD_L}" y="{PAD_T}" width="{inner_w}" height="{inner_h}" fill="none" stroke="#888"/>')
    for i, (name, ys) in enumerate(series.items()):
        color = COLORS[i % len(COLORS)]
        runs, cur = [], []
        for xv, yv in zip(x, ys):
            if yv is None or (log and yv <= 0):
                runs, cur = (runs + [cur] if cur else runs), []
            else:
                cur.append(f"{px(xv + 0.5):.1f},{py(yv):.1f}")
        runs += [cur] if cur else []
        for run in runs:
            parts.append(f'<polyline class="series" data-name="{html.escape(name)}" fill="none" stroke="{color}" '
                         f'stroke-width="1.8" points="{" ".join(run)}"/>')
        ly = PAD_T + 14 + 18 * i
        parts.append(f'<line x1="{WIDTH - PAD_R + 12}" x2="{WIDTH - PAD_R + 32}" y1="{ly}" y2="{ly}" stroke="{color}" stroke-width="3"/>'
                     f'<text x="{WIDTH - PAD_R + 38}" y="{ly + 4}" font-size="12">{html.escape(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _table(rows: list[dict], cols: list[str]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_cell(r.get(c)))}</td>" for c in cols) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _cell(v) -> str:
    if v is None:
        return "–"
    if isinstance(v, dict):
        return ", ".join(f"{k}: {n}" for k, n in v.items()) or "–"
    return f"{v:g}" if isinstance(v, float) else str(v)


def render(windows: list[dict], summary: dict, meta: dict, mlperf: dict | None = None) -> str:
    x = [w["t"] for w in windows]
    flagged = sorted(set(summary.get("slow_windows", [])) | set(summary.get("generator_bound_windows", [])))
    charts = [
        line_chart("latency", "Latency per window (from intended send time)", x,
                   {k: [w[f"{k}_ms"] for w in windows] for k in ("p50", "p90", "p99", "p999", "max")},
                   "ms (log scale)", flagged, log=True),
        line_chart("rates", "Offered, sent and completed requests per second", x,
                   {"target": [w.get("target_rps") for w in windows], "offered RPS": [w["offered_rps"] for w in windows],
                    "sent": [w["sent_rps"] for w in windows], "QPS (ok)": [w["qps"] for w in windows]},
                   "requests/s", flagged),
        line_chart("errors", "Errors per window (by intended send time)", x,
                   {"errors": [w["errors"] for w in windows], "late sends": [w["late"] for w in windows]},
                   "count", flagged),
    ]
    marks = [dict(w, why=", ".join(n for n, key in (("slow", "slow_windows"), ("generator-bound", "generator_bound_windows"))
                                  if w["window"] in summary.get(key, [])))
             for w in windows if w["window"] in flagged]
    cols = ["window", "why", "offered_rps", "sent_rps", "qps", "sr", "p50_ms", "p99_ms", "max_ms", "lag_max_ms",
            "late", "errors_by_status", "errors_by_kind"]
    summary_rows = [{"figure": k, "value": v} for k, v in summary.items() if k != "summary"]
    ml = ""
    if mlperf:
        ml = "<h2>MLPerf LoadGen (Server scenario)</h2>" + _table([{"figure": k, "value": v} for k, v in mlperf.items()
                                                                   if not isinstance(v, (list, dict))], ["figure", "value"])
    title = f"trainyard loadgen: {meta.get('method', '')} {meta.get('url', '')}"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;margin:24px;color:#222}} table{{border-collapse:collapse;margin:8px 0 24px}}
td,th{{border:1px solid #ccc;padding:3px 8px;font-size:13px;text-align:right}} th{{background:#f3f3f3}}
.chart{{display:block;margin:8px 0 24px}} .note{{color:#555;font-size:13px}}</style></head>
<body><h1>{html.escape(title)}</h1>
<p class="note">Schedule: {html.escape(json.dumps(meta.get('schedule', {})))}. Latency counts from each request's
intended send time. Shaded windows are flagged: <b>slow</b> (p99 above 3× the median window p50) or
<b>generator-bound</b> (over 1% of its sends later than {meta.get('late_ms', 5)} ms).</p>
<h2>Summary</h2>{_table(summary_rows, ["figure", "value"])}
{ml}
<h2>Plots</h2>{"".join(charts)}
<h2>Flagged windows</h2>{_table(marks, cols) if marks else "<p>none</p>"}
<h2>All windows</h2>{_table(windows, cols[:1] + cols[2:])}
</body></html>
"""
