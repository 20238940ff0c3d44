"""What the tools' output says about a failure: a hint for known causes, whether it is worth
retrying, and the package (and so the line of the layer's project file) it is about. Pure: text
in, facts out. It reads only third-party output (uv, pip, compilers, the engine): layerctl's own
errors say all of that through their class (``errors.py``: ``hint``, ``transient``)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import canonicalize_name

__all__ = ["TAIL_LINES", "Diagnosis", "diagnose", "find_requirement_line"]

TAIL_LINES = 30  # lines of a failed target's log shown (and kept in the report)


def _missing(names: str, front_end: str, cmake: str, meson: str) -> str:
    """What the build tools print when a compiler is not there at all (setuptools, distutils,
    the gcc driver without its front end, a shell, CMake, meson), as opposed to one that failed."""
    tool = rf"(?:[\w./-]*[-/])?(?:{names})(?:-\d+)?"
    return (
        rf"no such file or directory: '{tool}'|command '{tool}' failed: no such file|"
        rf"unable to execute '{tool}'|(?:cannot execute|error trying to exec) \W{front_end}\W|"
        rf"(?:^|[\s:])(?:{names}): (?:command )?not found|no cmake_{cmake}_compiler could be found|"
        rf"unknown compiler\(s\): \[\['{meson}'\]"
    )


_NO_COMPILER = "the image lacks a {} compiler ({}): use an image that has it, as the SAM build images do"

# (pattern, hint); the first match wins, so the specific causes come before the general ones
_HINTS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), hint)
    for pattern, hint in (
        (
            r"do not match the hashes from the requirements file|hash mismatch",
            "a downloaded file is not the one the lock's hash names: if the index changed it on "
            "purpose, lock again (uv lock, poetry lock, or --refresh for a pip layer); else do not trust it",
        ),
        (
            r"exec format error",
            "this machine cannot run the target's architecture: register QEMU/binfmt "
            "(apt-get install qemu-user-static binfmt-support)",
        ),
        (
            r"no space left on device|ENOSPC|disk quota exceeded",
            "the disk is full: free space (layerctl clean, docker system prune) or move --cache-dir",
        ),
        (
            r"cannot connect to the docker daemon",
            "start the Docker engine (systemctl start docker, or dockerd) or set DOCKER_HOST",
        ),
        (
            r"version [`']GLIBC_\d+\.\d+' not found",
            "a binary needs a newer glibc than the Lambda runtime has: the wheel's manylinux tag "
            "is too new; pin an older release or build with --builder container",
        ),
        (
            r"has no compatible wheel|has no usable wheels|no wheels with a matching",
            "build it in the Lambda build image: --builder container (or auto, the default)",
        ),
        (
            r"was not found in the package registry|no matching distribution found|"
            r"could not find a version that satisfies|no solution found when resolving",
            "check the dependency's name and version in the layer's pyproject.toml, and that "
            "index-url is the index that has it",
        ),
        (_missing(r"g\+\+|c\+\+|clang\+\+", "cc1plus", "CXX", r"c\+\+"), _NO_COMPILER.format("C++", "g++")),
        (_missing(r"gcc|cc|clang", "cc1", "C", "cc"), _NO_COMPILER.format("C", "gcc")),
        (
            r"fatal error: \W?python\.h\W?:? (?:no such file|file not found)",
            "the image lacks Python's development headers (Python.h): use an image that has them "
            "(python3-dev, or the image's Python built with its headers), as the SAM build images do",
        ),
        (
            r"failed building wheel|error: command '.*(gcc|cc|g\+\+)' failed|fatal error: .*\.h: no such file|"
            r"error: command '\['[\w./-]*(gcc|cc|g\+\+|c\+\+|clang)[^']*'.*returned non-zero exit status",
            "the package's C build failed in the image: see the compiler error above; it may need "
            "headers the image lacks (a custom `image`)",
        ),
        (
            r"failed to fetch|service unavailable|bad gateway|gateway time-?out|too many requests|"
            r"connection (reset|refused)|temporary failure in name resolution",
            "the package index, registry or network failed: check index-url and connectivity; "
            "--retries N retries such failures with backoff",
        ),
    )
)

# Failures worth another attempt: the network, an index or the engine having a bad moment.
_TRANSIENT = re.compile(
    r"connection (reset|refused|aborted|closed)|timed? ?out while|read timed out|operation timed out|"
    r"temporary failure in name resolution|name or service not known|network is unreachable|"
    r"(?:http|status|error|code)\W[^\n]{0,24}\b(?:429|5\d\d)\b|"  # "HTTP error 503", "engine error 500"
    r"service unavailable|bad gateway|gateway time-?out|too many requests|"
    r"internal server error|failed to fetch|error sending request|incompleteread|protocolerror|"
    r"remotedisconnected|toomanyrequests|tls handshake timeout",
    re.IGNORECASE,
)
# A deterministic failure never becomes transient because a network word appears beside it.
_PERMANENT = re.compile(
    r"failed building wheel|error: command '|fatal error:|syntaxerror|was not found in the package "
    r"registry|no matching distribution|could not find a version|no solution found|"
    r"has no compatible wheel|has no usable wheels|\b40[134]\b",
    re.IGNORECASE,
)

_PACKAGE = (
    re.compile(r"because ([A-Za-z0-9][A-Za-z0-9._-]*) was not found", re.IGNORECASE),
    re.compile(r"no matching distribution found for ([A-Za-z0-9][A-Za-z0-9._-]*)", re.IGNORECASE),
    re.compile(r"satisfies the requirement ([A-Za-z0-9][A-Za-z0-9._-]*)", re.IGNORECASE),
    re.compile(r"failed building wheel for ([A-Za-z0-9][A-Za-z0-9._-]*)", re.IGNORECASE),
)


@dataclass(frozen=True)
class Diagnosis:
    hint: str | None
    transient: bool
    package: str | None


def diagnose(output: Sequence[str]) -> Diagnosis:
    """Read the last lines the tools printed before a failure."""
    text = "\n".join(output)
    hint = next((h for pattern, h in _HINTS if pattern.search(text)), None)
    transient = bool(_TRANSIENT.search(text)) and not _PERMANENT.search(text)
    package = next((m.group(1) for p in _PACKAGE for m in [p.search(text)] if m), None)
    return Diagnosis(hint=hint, transient=transient, package=package)


def find_requirement_line(project: Path, package: str) -> int | None:
    """The 1-based line of ``project`` (a pyproject.toml or requirements file) that names
    ``package`` as a dependency, if one does."""
    wanted = canonicalize_name(package)
    try:
        lines = project.read_text("utf-8").splitlines()
    except OSError:
        return None
    for number, line in enumerate(lines, 1):
        for match in re.finditer(r"[\"']?\s*([A-Za-z0-9][A-Za-z0-9._-]*)", line):
            if canonicalize_name(match.group(1)) == wanted and ("=" in line or '"' in line or "'" in line):
                return number
    return None
