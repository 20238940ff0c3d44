"""The file work of an attempt's steps, each step's in one synchronous function that the
pipeline runs in one thread hop (``core/offload.run_sync``): a hop costs far more than a small
file operation, and a matrix of thousands of targets pays it per step, not per file. Work that is
a few metadata operations whatever the layer (``stage``; ``start`` of a target never built) runs
on the event loop, and so does the work on a tree that a bounded walk finds small (``small``):
its few system calls cost less than the hop, and the hand-offs of the interpreter's lock
between the loop and a worker that follow it. What the steps have to say (log lines, warnings)
is returned, in order, and said by the pipeline after the step.

``pack`` is the zipping step: the tree collected and measured, the zip written, the tree and
``requirements.txt`` swapped in, then the stamp (and the shared caches) in one go, so nothing
can stop the step between the new zip and the stamp that describes it."""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..core.fileio import replace_tree, temp_dir, write_new
from ..core.outputs import ARTIFACTS, REQUIREMENTS_NAME, ZIP_NAME, remove_leftovers
from ..package.scripts_fix import fix_scripts, forget_direct_urls, forget_local_files
from ..package.sizes import Sizes, collect_measured, keep_failed_tree, listing
from ..package.zip import UNZIPPED_LIMIT, ZipResult, collect, exclude_patterns, write_zip
from ..plan.targets import Target
from ..resolve.reqset import RequirementSet
from .freshness import lock_inputs
from .localwheels import LocalSet
from .stamp import StampResult

__all__ = [
    "SMALL_BYTES",
    "SMALL_ENTRIES",
    "Packed",
    "beside",
    "clean",
    "fix_tree",
    "local_files",
    "make_dir",
    "pack",
    "small",
    "stage",
    "start",
]

# The most a step on the event loop may touch: a tree of a few files (a layer that installs
# one small module, or nothing), zipped in well under a millisecond. A 60 MB tree is never near.
SMALL_ENTRIES = 32
SMALL_BYTES = 256 * 1024


def start(target: Target, *, made: bool = False) -> tuple[dict[str, str], bool]:
    """The target's own directory (its parent, the output directory, is claimed by the run;
    ``made``: by the caller, just now), cleared of what a killed run left there (nothing else
    holds it while the run lock is held), and the digests of the files its set is exported
    from, before the export reads them; and whether the directory was made here (then it is
    empty: nothing to clear, check or find)."""
    if not made:
        made = make_dir(target.out_dir)
        if not made:
            remove_leftovers(target.out_dir)
    return lock_inputs(target), made


def make_dir(path: Path) -> bool:
    """Make the directory ``path``; False when something is there already."""
    try:
        path.mkdir()
    except FileExistsError:
        return False
    return True


def beside(staging: list[Path], name: str) -> Path:
    """A file of this attempt beside its staging tree, removed with it (a leftover's name)."""
    path = staging[0].with_name(f"{staging[0].name}.{name}.tmp")
    staging.append(path)
    return path


def stage(out: Path, staging: list[Path], requirements: str, own: str | None) -> tuple[Path, Path | None]:
    """The attempt's staging tree (``staging[0]``, its ``python/`` the install's destination) and,
    beside it, the set being installed (``requirements.txt``: it describes the zip beside it, so
    it is swapped in only with the zip) and an in-repo project's own line; their paths."""
    staging.append(temp_dir(out, ".staging-"))
    (staging[0] / "python").mkdir()
    req_path = beside(staging, REQUIREMENTS_NAME)
    write_new(req_path, requirements)
    own_path = None
    if own is not None:
        own_path = beside(staging, "own.txt")
        write_new(own_path, own)
    return req_path, own_path


def small(*paths: Path) -> bool:
    """Whether the trees and files at ``paths`` hold, together, at most ``SMALL_ENTRIES``
    entries and ``SMALL_BYTES`` bytes (a missing path holds nothing). The walk stops as soon as
    either bound is passed, so a large tree costs the loop a few dozen entries read at most; a
    symlink (the zip may follow it) or anything but a file or directory counts as large."""
    entries, room = SMALL_ENTRIES, SMALL_BYTES
    pending: list[str] = []
    for path in paths:
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            continue
        if stat.S_ISDIR(info.st_mode):
            pending.append(os.fspath(path))
        elif stat.S_ISREG(info.st_mode):
            room -= info.st_size
        else:
            return False
    if room < 0:
        return False
    while pending:
        with os.scandir(pending.pop()) as scan:
            for item in scan:
                entries -= 1
                if entries < 0:
                    return False
                if item.is_dir(follow_symlinks=False):
                    pending.append(item.path)
                elif item.is_file(follow_symlinks=False):
                    room -= item.stat(follow_symlinks=False).st_size
                    if room < 0:
                        return False
                else:
                    return False
    return True


def local_files(requirements: RequirementSet, built: LocalSet | None) -> tuple[Path, ...]:
    """The files the set installs by path (sdists and wheels kept in the repository, in-repo
    projects' wheels built for this run), wherever they are: a container mounts each read-only
    at its own path, and none is recorded in the layer (``fix_tree``)."""
    files = {path for path in requirements.local_files() if path.is_absolute()}
    if built is not None:
        files.update(wheel.path for wheel in built.wheels)
    return tuple(sorted(files))


def fix_tree(dest: Path, python: str, local: Path | None, files: Sequence[Path] = ()) -> list[str]:
    """Scripts pointed at the runtime's interpreter (the rewritten ones), and what records a path
    of this machine removed: of in-repo wheels built under ``local``, of the set's local ``files``
    (an sdist or wheel named by path: the zip is the same from every checkout)."""
    fixed = fix_scripts(dest, python)
    if local is not None:
        forget_direct_urls(dest, local)
    forget_local_files(dest, files)
    return fixed


def clean(staging: list[Path]) -> None:
    """What an attempt that did not finish leaves: its staging tree and the files beside it."""
    if staging:
        shutil.rmtree(staging[0], ignore_errors=True)
        for leftover in staging[1:]:
            leftover.unlink(missing_ok=True)


@dataclass
class Packed:
    """What ``pack`` did: ``kept`` (the layer is too large: where its tree is kept, and no zip
    was written) or ``zipped``; the lines and warnings to say, in this order."""

    sizes: Sizes
    kept: Path | None = None
    zipped: ZipResult | None = None
    made: StampResult | None = None
    said: list[tuple[bool, str]] = field(default_factory=list)  # (a warning?, the words)

    def line(self, words: str) -> None:
        self.said.append((False, words))

    def warning(self, words: str) -> None:
        self.said.append((True, words))


def pack(
    staging: list[Path],
    out: Path,
    *,
    target: str,
    requirements: Path,
    exclude: Sequence[str],
    runtime_provided: bool,
    bytecode: bool,
    level: int,
    installs_something: bool,
    made: Callable[[ZipResult, Sizes], StampResult],
    keep: Callable[[StampResult], list[str]],
    check_cancelled: Callable[[], None] | None = None,
) -> Packed:
    """The zipping step: the tree's files collected and measured, the zip written beside the
    last good one and renamed over it, the tree put in ``artifacts/`` and the set beside it,
    then ``keep`` (the stamp, the shared caches; it returns what went wrong with them) of what
    ``made`` makes of the zip. A tree over Lambda's limit is kept for inspection and nothing is
    written. Once the tree is swapped in, ``staging`` is emptied: nothing of it is left."""
    dest = staging[0] / "python"
    patterns = exclude_patterns(exclude, runtime_provided=runtime_provided, keep_bytecode=bytecode)
    entries, sizes = collect_measured(dest, patterns)
    packed = Packed(sizes)
    say, warn = packed.line, packed.warning
    say(f"largest packages (unzipped): {listing(sizes.largest) or '-'}")
    if sizes.total > UNZIPPED_LIMIT:  # kept for inspection: what to leave out is in there
        packed.kept = keep_failed_tree(staging[0], out)
        return packed
    for message in sizes.warnings():
        warn(message)
    zipped = write_zip(entries, out / ZIP_NAME, level=level, check_cancelled=check_cancelled)
    # without excludes of the user's, the walk above already saw every file there is to zip
    if zipped.files == 0 and (exclude or runtime_provided) and _has_files(dest, bytecode):
        provided = ", exclude-runtime-provided" if runtime_provided else ""
        warn(
            f"the exclude patterns removed every file from the layer (exclude = "
            f"{list(exclude)}{provided}): {ZIP_NAME} is empty"
        )
    elif zipped.files == 0 and installs_something:
        warn(
            f"the layer installs nothing for {target}: no dependency applies to it "
            f"(their markers leave every one out): {ZIP_NAME} is empty"
        )
    if zipped.over_direct_upload_limit:
        warn(sizes.upload_warning(ZIP_NAME, zipped.zipped_size))
    say(
        f"zip: {zipped.files} files, {zipped.unzipped_size:,} bytes -> "
        f"{zipped.zipped_size:,} bytes, sha256 {zipped.sha256}"
    )
    replace_tree(staging[0], out / ARTIFACTS)  # the new tree in artifacts/, then its set
    os.replace(requirements, out / REQUIREMENTS_NAME)
    staging.clear()
    packed.zipped, packed.made = zipped, made(zipped, sizes)
    for note in keep(packed.made):
        warn(note)
    return packed


def _has_files(root: Path, keep_bytecode: bool) -> bool:
    """Whether the tree has files to zip before the user's excludes take any away."""
    return bool(collect(root, exclude_patterns((), runtime_provided=False, keep_bytecode=keep_bytecode)))
