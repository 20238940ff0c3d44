"""What reporters say about publishing: a line per target and region, the summary table's
cell, the failure blocks, and the ARN table of the GitHub step summary."""

from __future__ import annotations

from collections.abc import Sequence

from ...core.events import PublishResult, TargetResult

__all__ = ["markdown_published", "publish_cell", "publish_failures", "published_lines"]


def published_lines(results: Sequence[PublishResult]) -> list[str]:
    """One line per region: the new or current version's ARN, or the failure."""
    lines = []
    for p in results:
        if p.status == "failed":
            lines.append(f"publish FAILED: {p.error}")  # the error names target and region
            continue
        word = "published" if p.status == "published" else "unchanged"
        extra = [f"shared {', '.join(p.shared)}"] if p.shared else []
        extra += [f"pruned v{', v'.join(map(str, p.pruned))}"] if p.pruned else []
        more = f" ({'; '.join(extra)})" if extra else ""
        lines.append(f"{word} in {p.region}: {p.arn}{more}")
    return lines


def publish_cell(result: TargetResult) -> str:
    """The summary table's `published` cell: new and current versions, failed regions."""
    if not result.publish:
        return "-"
    counts = {word: sum(p.status == word for p in result.publish) for word in ("published", "unchanged")}
    parts = [f"{n} {'new' if word == 'published' else 'current'}" for word, n in counts.items() if n]
    failed = [p.region for p in result.publish if p.status == "failed"]
    if failed:
        parts.append(f"FAILED {', '.join(failed)}")
    return ", ".join(parts)


def publish_failures(results: Sequence[TargetResult]) -> list[list[str]]:
    """A block per target and region that failed to publish; a cause met again is told once."""
    blocks: list[list[str]] = []
    told: set[tuple[str | None, str | None]] = set()
    for result in results:
        for p in result.publish:
            if p.status != "failed":
                continue
            block = [f"{result.id} publish FAILED: {p.error}"]
            cause = ((p.error or "").removeprefix(f"{result.id}: "), p.hint)
            if p.hint and cause not in told:
                block.append(f"  hint: {p.hint}")
            told.add(cause)
            blocks.append(block)
    return blocks


def markdown_published(results: Sequence[TargetResult]) -> str:
    """The layer versions of the run, for the GitHub step summary ("" when nothing published)."""
    rows = [(r, p) for r in results for p in r.publish]
    if not rows:
        return ""
    lines = ["", "| target | region | publish | layer version |", "|---|---|---|---|"]
    for r, p in rows:
        what = f"`{p.arn}`" if p.arn else (p.error or "").replace("|", "\\|")
        status = f"**{p.status}**" if p.status == "failed" else p.status
        lines.append(f"| `{r.id}` | {p.region} | {status} | {what} |")
    return "\n".join(lines) + "\n"
