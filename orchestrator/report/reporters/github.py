"""GitHub Actions output: each target's whole log in its own ``::group::`` block, written when
the target finishes (so concurrent targets never interleave), an ``::error::`` annotation per
failure pointing at the file and line when known, and a markdown summary appended to
``$GITHUB_STEP_SUMMARY``. Log text is fenced by ``::stop-commands::`` so a line a build prints
can never act as a workflow command."""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from ...core.errors import ReportError
from ...core.events import (
    Event,
    Notice,
    Published,
    RunFinished,
    RunStarted,
    TargetFinished,
    TargetResult,
    TargetWarning,
)
from .published import published_lines
from .summary import failure_blocks, finished_line, markdown_summary, write_summary

__all__ = ["OUTPUT_NAME", "GitHubReporter", "escape_data", "escape_property", "layer_arns", "write_outputs"]

OUTPUT_NAME = "layer-arns"  # steps.<id>.outputs.layer-arns: {"target id": {"region": "arn"}}


def layer_arns(results: Sequence[TargetResult]) -> dict[str, dict[str, str]]:
    """The current layer version of each published target, by region."""
    arns: dict[str, dict[str, str]] = {}
    for result in results:
        for published in result.publish:
            if published.arn and published.status != "failed":
                arns.setdefault(result.id, {})[published.region] = published.arn
    return arns


def write_outputs(results: Sequence[TargetResult]) -> None:
    """On GitHub Actions, hand the layer ARNs to later steps and jobs: one JSON value in
    ``$GITHUB_OUTPUT`` (``fromJSON(steps.<id>.outputs.layer-arns)``)."""
    path = os.environ.get("GITHUB_OUTPUT")
    if not path:
        return
    try:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(f"{OUTPUT_NAME}={json.dumps(layer_arns(results), sort_keys=True)}\n")
    except OSError as exc:
        raise ReportError(
            f"{path}: cannot write the step output $GITHUB_OUTPUT ({exc.strerror or exc})"
        ) from None


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


class GitHubReporter:
    def __init__(self, out: TextIO, *, verbose: int = 0, workspace: Path | None = None) -> None:
        self.out = out
        self.verbose = verbose
        self.workspace = workspace

    async def handle(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            self.out.write(f"layerctl: {event.doing} {len(event.targets)} targets, {event.jobs} at a time\n")
        elif isinstance(event, Notice):
            if self.verbose >= 0:
                self.out.write(f"layerctl: {event.message}\n")
        elif isinstance(event, TargetWarning):
            self.out.write(
                f"::warning title=layerctl {escape_property(event.target)}::{escape_data(event.message)}\n"
            )
        elif isinstance(event, TargetFinished):
            self._group(event.result)
        elif isinstance(event, Published):
            for line in published_lines(event.results):
                self.out.write(f"{event.target}: {line}\n")
        elif isinstance(event, RunFinished):
            self._finish(event)
        # LogLines, TargetStarted, PhaseStarted: the group written at the end holds them

    def _finish(self, event: RunFinished) -> None:
        for block in failure_blocks(event.results):
            self.out.write("\n".join(block) + "\n")
        write_summary(event.results, self.out, no_color=True)
        summary = os.environ.get("GITHUB_STEP_SUMMARY")
        if summary:
            try:
                with open(summary, "a", encoding="utf-8") as fh:
                    fh.write(markdown_summary(event.results, event.duration_s))
            except OSError as exc:  # the job summary is a nicety: the run's outcome stands
                reason = f"cannot append the run summary to {summary} ({exc.strerror or exc})"
                self.out.write(f"::warning title=layerctl::{escape_data(reason)}\n")
        self.out.flush()

    def _group(self, result: TargetResult) -> None:
        out = self.out
        out.write(f"::group::{escape_data(result.id)}: {escape_data(finished_line(result))}\n")
        token = uuid.uuid4().hex
        out.write(f"::stop-commands::{token}\n")
        if result.log and (self.verbose >= 0 or result.status == "failed"):
            try:
                with open(result.log, encoding="utf-8", errors="replace") as log:
                    shutil.copyfileobj(log, out)  # streamed from build.log: never held in memory
            except OSError as exc:
                out.write(f"(log unreadable: {exc})\n")
        out.write(f"::{token}::\n")
        out.write("::endgroup::\n")
        if result.status == "failed":
            props = [f"title={escape_property(f'layerctl: {result.id} failed')}"]
            if result.error_file:
                props.insert(0, f"file={escape_property(self._repo_path(result.error_file))}")
                if result.error_line:
                    props.insert(1, f"line={result.error_line}")
            message = result.error or "failed"
            if result.hint:
                message += f"\nhint: {result.hint}"
            out.write(f"::error {','.join(props)}::{escape_data(message)}\n")
        out.flush()

    def _repo_path(self, path: str) -> str:
        """Annotations want a path from the repository root (GITHUB_WORKSPACE)."""
        repo = os.environ.get("GITHUB_WORKSPACE")
        if not repo or self.workspace is None:
            return path
        try:
            return str((self.workspace / path).resolve().relative_to(Path(repo).resolve()))
        except ValueError:
            return path

    def flush(self) -> None:
        self.out.flush()

    def close(self) -> None:
        self.out.flush()
