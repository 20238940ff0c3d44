"""``layerctl clean``: what layerctl wrote in each layer's output directory and the run report,
only in directories carrying its marker and only of the kind it writes (a file where it writes
files, a directory where it writes trees); anything else at its names is kept, one line each;
(the containers of runs that are gone: ``engines.py``)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from ..core.errors import EnvironmentProblem
from ..core.outputs import MARKER, check_inside, clean_output_dir, clean_report_dir, kind_of, writes_tree
from ..core.runlock import LOCK_NAME
from ..workspace.discovery import Layer

__all__ = ["clean_outputs", "clean_report"]


def clean_outputs(outputs: Iterable[tuple[Layer, str]], say: Callable[[str], None]) -> None:
    """Each layer's output directory (its ``output`` setting) that layerctl made, and only those."""
    seen: set[Path] = set()
    for layer, output in outputs:
        out_root = check_inside(
            layer.root, output, key="output", where=f"layer {layer.name} ({layer.pyproject})"
        )
        if out_root in seen or not out_root.exists():
            seen.add(out_root)
            continue
        seen.add(out_root)
        with _removing(out_root):
            cleaned = clean_output_dir(out_root)
        if cleaned is None:
            say(f"skipped {out_root}: layerctl did not make it (no {MARKER} in it)")
        else:
            _say_left(cleaned, say)
            say(f"removed the outputs in {out_root}")


def clean_report(report_dir: Path, say: Callable[[str], None]) -> None:
    with _removing(report_dir):
        cleaned = clean_report_dir(report_dir)
    removed, left = cleaned or ([], [])
    for name in removed:
        if name != LOCK_NAME:
            say(f"removed {report_dir / name}")
    _say_left(left, say)


def _say_left(left: Iterable[Path], say: Callable[[str], None]) -> None:
    """One line for each entry at one of layerctl's names that is not of the kind it writes."""
    for path in left:
        writes = "a directory" if writes_tree(path.name) else "a file"
        say(f"left {path}: {kind_of(path)} where layerctl writes {writes}; not layerctl's, kept")


@contextmanager
def _removing(directory: Path) -> Iterator[None]:
    """A file layerctl may not remove (no permission) is this machine's problem, in one line."""
    try:
        yield
    except OSError as exc:
        raise EnvironmentProblem(
            f"{directory}: cannot remove layerctl's files there ({exc.strerror or exc})"
        ) from None
