"""``report.html``: one self-contained page (inline CSS and SVG, no script, nothing fetched) made
from a run report: the summary table, a timeline (one bar per target from its start to its end,
phases coloured, failures marked), the unzipped size of each target against Lambda's limit,
grouped by layer, each bar split by its largest packages, and a table of those packages per
target. Pure: a RunReport in, a string out."""

from __future__ import annotations

from html import escape

from ..core.events import PackageSize, RunReport, TargetResult
from ..package.zip import UNZIPPED_LIMIT
from .lanes import render_parts
from .reporters.summary import mb, status_word

__all__ = ["PHASE_COLOURS", "render_html"]

PHASE_COLOURS = {
    "resolving": "#6c8ebf",
    "pulling": "#9e9e9e",
    "installing": "#4caf50",
    "auditing": "#ff9800",
    "compiling": "#9c27b0",
    "zipping": "#009688",
    "other": "#cfd8dc",  # time outside the named phases (start-up, retry backoff)
}
# the largest packages of a size bar, in order; the rest of the layer is the bar's own colour
_PACKAGE_COLOURS = ("#3949ab", "#00897b", "#ef6c00", "#8e24aa", "#6d4c41", "#43a047", "#d81b60", "#039be5")
_LABEL_W = 240
_CHART_W = 720
_ROW_H = 24
_BAR_H = 16


def render_html(report: RunReport) -> str:
    title = f"layerctl report: {len(report.targets)} targets, {report.duration_s:.1f}s"
    counts = ", ".join(f"{n} {s}" for s, n in report.counts.items())
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{escape(title)}</title>
<style>
body {{ font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #222; }}
h1 {{ font-size: 20px; }} h2 {{ font-size: 16px; margin-top: 28px; }}
table.summary {{ border-collapse: collapse; }}
table.summary th, table.summary td {{ padding: 3px 10px; border-bottom: 1px solid #ddd; text-align: left; }}
table.summary td.num {{ text-align: right; font-variant-numeric: tabular-nums; }}
.failed {{ color: #c62828; font-weight: bold; }}
.legend span {{ display: inline-block; margin-right: 14px; }}
.legend i {{ display: inline-block; width: 12px; height: 12px; margin-right: 4px; vertical-align: -1px; }}
svg text {{ font: 12px system-ui, sans-serif; }}
pre {{ background: #f6f6f6; padding: 8px; overflow-x: auto; font-size: 12px; }}
</style></head>
<body>
<h1>{escape(title)}</h1>
<p>started {escape(report.started_at)} &middot; {report.jobs} at a time &middot; exit code {report.exit_code}
&middot; {escape(counts)}{" &middot; <b>interrupted</b>" if report.interrupted else ""}</p>
{_summary(report.targets)}
{_published(report.targets)}
{render_parts(report)}
<h2>Timeline</h2>
{_legend()}
{_timeline(report.targets)}
<h2>Size against Lambda's {UNZIPPED_LIMIT / 1024 / 1024:.0f} MB unzipped limit</h2>
{_sizes(report.targets)}
{_largest(report.targets)}
{_failures(report.targets)}
</body></html>
"""


def _summary(targets: list[TargetResult]) -> str:
    rows = []
    for t in targets:
        status = status_word(t)
        cls = ' class="failed"' if t.status == "failed" else ""
        rows.append(
            f"<tr><td>{escape(t.id)}</td><td>{escape(t.builder)}</td><td{cls}>{escape(status)}</td>"
            f'<td class="num">{t.duration_s:.1f}s</td><td class="num">{mb(t.unzipped_size)}</td>'
            f'<td class="num">{mb(t.zipped_size)}</td><td><code>{escape((t.sha256 or "")[:12])}</code></td></tr>'
        )
    return (
        '<table class="summary"><tr><th>target</th><th>builder</th><th>status</th><th>time</th>'
        "<th>unzipped</th><th>zip</th><th>sha256</th></tr>" + "".join(rows) + "</table>"
    )


def _published(targets: list[TargetResult]) -> str:
    """Each target's layer version per region: new, current, or why publishing failed."""
    rows = []
    for t in targets:
        for p in t.publish:
            cls = ' class="failed"' if p.status == "failed" else ""
            what = f"<code>{escape(p.arn)}</code>" if p.arn else escape(p.error or "")
            rows.append(
                f"<tr><td>{escape(t.id)}</td><td>{escape(p.region)}</td><td{cls}>{escape(p.status)}</td>"
                f"<td>{what}</td></tr>"
            )
    if not rows:
        return ""
    return (
        '<h2>Published</h2><table class="summary"><tr><th>target</th><th>region</th><th>publish</th>'
        "<th>layer version</th></tr>" + "".join(rows) + "</table>"
    )


def _legend() -> str:
    items = "".join(
        f'<span><i style="background:{colour}"></i>{name}</span>' for name, colour in PHASE_COLOURS.items()
    )
    return f'<p class="legend">{items}<span><i style="border:2px solid #c62828"></i>failed</span></p>'


def _timeline(targets: list[TargetResult]) -> str:
    starts = [t.started_at for t in targets if t.started_at is not None]
    t0 = min(starts) if starts else 0.0
    end = max(((t.started_at or t0) - t0 + t.duration_s for t in targets), default=0.0)
    span = max(end, 0.001)
    scale = _CHART_W / span
    height = _ROW_H * len(targets) + 30
    parts = [f'<svg class="timeline" width="{_LABEL_W + _CHART_W + 60}" height="{height}" role="img">']
    for tick in _ticks(span):
        x = _LABEL_W + tick * scale
        parts.append(
            f'<line x1="{x:.1f}" y1="0" x2="{x:.1f}" y2="{height - 20}" stroke="#eee"/>'
            f'<text x="{x:.1f}" y="{height - 6}" text-anchor="middle" fill="#777">{tick:g}s</text>'
        )
    for i, t in enumerate(targets):
        y = i * _ROW_H + 4
        x0 = _LABEL_W + ((t.started_at - t0) if t.started_at is not None else 0.0) * scale
        width = max(t.duration_s * scale, 2.0)
        failed = t.status == "failed"
        tip = f"{t.id}: {status_word(t)} in {t.duration_s:.1f}s; " + ", ".join(
            f"{name} {secs:.1f}s" for name, secs in t.phases_s.items()
        )
        parts.append(
            f'<g class="bar" data-target="{escape(t.id)}" data-status="{t.status}"><title>{escape(tip)}</title>'
            f'<text x="{_LABEL_W - 8}" y="{y + 12}" text-anchor="end">{escape(t.id)}</text>'
        )
        if t.started_at is None:  # never ran: an empty outline where it would have started
            parts.append(
                f'<rect x="{x0:.1f}" y="{y}" width="{width:.1f}" height="{_BAR_H}" fill="none" '
                'stroke="#999" stroke-dasharray="3,2"/>'
            )
        else:
            x = x0
            used = 0.0
            for name, secs in t.phases_s.items():
                w = secs * scale
                parts.append(
                    f'<rect class="phase" x="{x:.1f}" y="{y}" width="{max(w, 0.5):.1f}" height="{_BAR_H}" '
                    f'fill="{PHASE_COLOURS.get(name, PHASE_COLOURS["other"])}"/>'
                )
                x += w
                used += secs
            if t.duration_s - used > 0.05:
                parts.append(
                    f'<rect class="phase" x="{x:.1f}" y="{y}" width="{(t.duration_s - used) * scale:.1f}" '
                    f'height="{_BAR_H}" fill="{PHASE_COLOURS["other"]}"/>'
                )
            stroke = "#c62828" if failed else "#555"
            parts.append(
                f'<rect x="{x0:.1f}" y="{y}" width="{width:.1f}" height="{_BAR_H}" fill="none" '
                f'stroke="{stroke}" stroke-width="{2 if failed else 0.5}"/>'
            )
        label = f"✗ {status_word(t)}" if failed else f"{t.duration_s:.1f}s"
        colour = "#c62828" if failed else "#333"
        parts.append(
            f'<text x="{x0 + width + 6:.1f}" y="{y + 12}" fill="{colour}">{escape(label)}</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _sizes(targets: list[TargetResult]) -> str:
    biggest = max((t.unzipped_size or 0 for t in targets), default=0)
    scale = _CHART_W / (max(UNZIPPED_LIMIT, biggest) * 1.05)
    layers: dict[str, list[TargetResult]] = {}
    for t in targets:
        layers.setdefault(t.layer, []).append(t)
    rows = sum(len(v) + 1 for v in layers.values())
    height = rows * _ROW_H + 10
    limit_x = _LABEL_W + UNZIPPED_LIMIT * scale
    parts = [f'<svg class="sizes" width="{_LABEL_W + _CHART_W + 140}" height="{height}" role="img">']
    y = 4
    for layer, members in layers.items():
        parts.append(f'<text x="4" y="{y + 12}" font-weight="bold">{escape(layer)}</text>')
        y += _ROW_H
        for t in members:
            size = t.unzipped_size or 0
            over = size > UNZIPPED_LIMIT
            parts.append(
                f'<g class="size-bar" data-target="{escape(t.id)}">'
                f'<text x="{_LABEL_W - 8}" y="{y + 12}" text-anchor="end">{escape(t.id)}</text>'
                f'<rect x="{_LABEL_W}" y="{y}" width="{max(size * scale, 1):.1f}" height="{_BAR_H}" '
                f'fill="{"#ef9a9a" if over else "#c5cae9"}"><title>{escape(t.id)}: other files</title></rect>'
                f"{_segments(t, y, scale)}"
                f'<text x="{_LABEL_W + max(size * scale, 1) + 6:.1f}" y="{y + 12}">'
                f"{_size_label(t)}</text></g>"
            )
            y += _ROW_H
    parts.append(
        f'<line x1="{limit_x:.1f}" y1="0" x2="{limit_x:.1f}" y2="{height}" stroke="#c62828" '
        f'stroke-dasharray="6,3"/><text x="{limit_x - 4:.1f}" y="{height - 2}" text-anchor="end" '
        f'fill="#c62828">{UNZIPPED_LIMIT / 1024 / 1024:.0f} MB</text></svg>'
    )
    return "".join(parts)


def _segments(t: TargetResult, y: int, scale: float) -> str:
    """The bar's share of each of the target's largest packages, a tooltip naming it."""
    parts, x = [], float(_LABEL_W)
    for i, package in enumerate(t.largest):
        width = package.size * scale
        parts.append(
            f'<rect class="package" x="{x:.1f}" y="{y}" width="{width:.1f}" height="{_BAR_H}" '
            f'fill="{_PACKAGE_COLOURS[i % len(_PACKAGE_COLOURS)]}"><title>{escape(_package(package))}: '
            f"{mb(package.size)}</title></rect>"
        )
        x += width
    return "".join(parts)


def _largest(targets: list[TargetResult]) -> str:
    """Per target, its largest packages: where a layer's size goes and what excludes can save."""
    measured = [t for t in targets if t.largest]
    if not measured:
        return ""
    parts = ["<h2>Largest packages (unzipped)</h2>"]
    for t in measured:
        total = t.unzipped_size or sum(p.size for p in t.largest)
        rows = "".join(
            f'<tr><td>{escape(_package(p))}</td><td class="num">{mb(p.size)}</td>'
            f'<td class="num">{100 * p.size / max(total, 1):.1f}%</td><td class="num">{p.files}</td></tr>'
            for p in t.largest
        )
        cls = ' class="failed"' if t.status == "failed" else ""
        parts.append(
            f'<details class="largest" data-target="{escape(t.id)}"{" open" if cls else ""}>'
            f"<summary{cls}>{escape(t.id)}: "
            f"{escape(mb(total))}, {escape(_package(t.largest[0]))} the largest</summary>"
            '<table class="summary"><tr><th>package</th><th>unzipped</th><th>share</th><th>files</th></tr>'
            f"{rows}</table></details>"
        )
    return "".join(parts)


def _package(p: PackageSize) -> str:
    return f"{p.name} {p.version}" if p.version else p.name


def _size_label(t: TargetResult) -> str:
    if t.unzipped_size is None:
        return f"no zip ({escape(status_word(t))})"
    top = "".join(f", {escape(p.name)} {escape(mb(p.size))}" for p in t.largest[:3])
    return f"{escape(mb(t.unzipped_size))} ({100 * t.unzipped_size / UNZIPPED_LIMIT:.1f}% of the limit){top}"


def _failures(targets: list[TargetResult]) -> str:
    failed = [t for t in targets if t.status == "failed"]
    if not failed:
        return ""
    parts = ["<h2>Failures</h2>"]
    for t in failed:
        parts.append(f'<h3 class="failed">{escape(t.id)}: {escape(t.error or "")}</h3>')
        if t.hint:
            parts.append(f"<p>hint: {escape(t.hint)}</p>")
        if t.log_tail:
            parts.append("<pre>" + escape("\n".join(t.log_tail)) + "</pre>")
        if t.log:
            parts.append(f"<p>full log: <code>{escape(t.log)}</code></p>")
    return "".join(parts)


def _ticks(span: float) -> list[float]:
    for step in (0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600):
        if span / step <= 10:
            break
    count = int(span // step) + 1
    return [round(i * step, 1) for i in range(count)]
