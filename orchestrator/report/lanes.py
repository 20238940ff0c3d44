"""The parts of a merged report in ``report.html`` (``layerctl report --merge``): a table of the
parts and a timeline with one lane per part (a CI matrix's shard or job) on one time axis,
each lane its part's span with its targets' bars packed into as few rows as they overlap.
Pure: a RunReport in, HTML out; nothing for a report that merged nothing."""

from __future__ import annotations

from datetime import datetime, timezone
from html import escape

from ..core.events import ReportPart, RunReport, TargetResult
from .reporters.summary import status_word

__all__ = ["STATUS_COLOURS", "pack_rows", "render_parts"]

STATUS_COLOURS = {
    "built": "#4caf50",
    "up-to-date": "#90a4ae",
    "cached": "#26a69a",
    "failed": "#c62828",
    "cancelled": "#ffb300",
    "not-run": "#e0e0e0",
}
_LABEL_W = 240
_CHART_W = 720
_SUB_H = 10  # one row of bars in a lane
_GAP = 8  # between lanes


def render_parts(report: RunReport) -> str:
    if not report.parts:
        return ""
    return "<h2>Parts</h2>" + _table(report.parts) + _legend() + _lanes(report)


def _table(parts: list[ReportPart]) -> str:
    rows = "".join(
        f'<tr><td>{escape(p.label)}</td><td><code>{escape(p.file)}</code></td><td class="num">{len(p.targets)}</td>'
        f'<td>{escape(p.started_at)}</td><td class="num">{p.duration_s:.1f}s</td>'
        f'<td class="num{" failed" if p.exit_code else ""}">{p.exit_code}'
        f"{' (interrupted)' if p.interrupted else ''}</td></tr>"
        for p in parts
    )
    return (
        '<table class="summary parts"><tr><th>part</th><th>report</th><th>targets</th><th>started</th>'
        "<th>time</th><th>exit code</th></tr>" + rows + "</table>"
    )


def _legend() -> str:
    items = "".join(
        f'<span><i style="background:{colour}"></i>{escape(status)}</span>'
        for status, colour in STATUS_COLOURS.items()
    )
    return f'<p class="legend">{items}</p>'


def pack_rows(spans: list[tuple[float, float]]) -> list[int]:
    """The row of each (start, end) span, in order: the first row free by its start (spans that
    overlap never share a row), so a lane is as tall as its part's concurrency."""
    ends: list[float] = []
    rows: list[int] = []
    for start, end in spans:
        row = next((i for i, free in enumerate(ends) if free <= start + 1e-6), len(ends))
        if row == len(ends):
            ends.append(end)
        else:
            ends[row] = end
        rows.append(row)
    return rows


def _unix(text: str) -> float | None:
    try:
        start = datetime.fromisoformat(text)
    except ValueError:
        return None
    return (start if start.tzinfo else start.replace(tzinfo=timezone.utc)).timestamp()


def _lanes(report: RunReport) -> str:
    rows = {t.id: t for t in report.targets}
    lanes: list[tuple[ReportPart, float | None, list[TargetResult]]] = []
    for part in report.parts:
        ran = sorted(
            (rows[i] for i in part.targets if i in rows and rows[i].started_at is not None),
            key=lambda t: t.started_at or 0.0,
        )
        lanes.append((part, _unix(part.started_at), ran))
    starts = [s for _, s, _ in lanes if s is not None] + [
        t.started_at or 0.0 for *_, ran in lanes for t in ran
    ]
    t0 = min(starts, default=0.0)
    ends = [s + p.duration_s for p, s, _ in lanes if s is not None]
    ends += [(t.started_at or 0.0) + t.duration_s for *_, ran in lanes for t in ran]
    scale = _CHART_W / max(max(ends, default=t0) - t0, 0.001)
    body: list[str] = []
    y = 4
    for part, start, ran in lanes:
        placed = pack_rows([(t.started_at or 0.0, (t.started_at or 0.0) + t.duration_s) for t in ran])
        height = max(max(placed, default=0) + 1, 2) * _SUB_H
        body.append(
            f'<g class="lane" data-part="{escape(part.label)}"><title>{escape(part.label)}: '
            f"{len(part.targets)} targets in {part.duration_s:.1f}s, exit code {part.exit_code}</title>"
            f'<text x="{_LABEL_W - 8}" y="{y + height / 2 + 4:.1f}" text-anchor="end">{escape(part.label)}</text>'
        )
        if start is not None:
            body.append(
                f'<rect class="span" x="{_LABEL_W + (start - t0) * scale:.1f}" y="{y}" '
                f'width="{max(part.duration_s * scale, 1.0):.1f}" height="{height}" fill="#f3f3f3" '
                f'stroke="{"#c62828" if part.exit_code else "#bbb"}"/>'
            )
        for t, row in zip(ran, placed, strict=True):
            tip = f"{t.id}: {status_word(t)} in {t.duration_s:.1f}s"
            body.append(
                f'<rect class="lane-bar" data-target="{escape(t.id)}" data-status="{t.status}" '
                f'x="{_LABEL_W + ((t.started_at or t0) - t0) * scale:.1f}" y="{y + row * _SUB_H + 1}" '
                f'width="{max(t.duration_s * scale, 1.5):.1f}" height="{_SUB_H - 2}" '
                f'fill="{STATUS_COLOURS.get(t.status, "#999")}"><title>{escape(tip)}</title></rect>'
            )
        body.append("</g>")
        y += height + _GAP
    span = (max(ends, default=t0) - t0) if ends else 0.0
    axis = (
        f'<text x="{_LABEL_W}" y="{y + 12}" fill="#777">0s</text>'
        f'<text x="{_LABEL_W + _CHART_W}" y="{y + 12}" text-anchor="end" fill="#777">{span:.1f}s</text>'
    )
    return (
        f'<svg class="lanes" width="{_LABEL_W + _CHART_W + 60}" height="{y + 20}" role="img">'
        + "".join(body)
        + axis
        + "</svg>"
    )
