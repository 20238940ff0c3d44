"""A requirement set as it applies to one target (markers evaluated for its runtime), its digest,
and what changed between two of them (``+orjson 3.10.1``, ``urllib3 2.2.0 -> 2.3.0``).

The digest covers only the lines whose markers hold for the target, so editing a shared lock in a
way that leaves this target's set alone changes nothing here."""

from __future__ import annotations

import hashlib

from packaging.markers import InvalidMarker, UndefinedComparison, UndefinedEnvironmentName
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from .plan import Target
from .resolve.poetry import target_environment

__all__ = ["Line", "applicable", "describe_changes", "set_digest"]

Line = tuple[str, str, str]  # name, version (or specifier), the line without its marker


def _logical_lines(text: str) -> list[str]:
    """Lines with their ``\\`` continuations joined, comments and blank lines left out."""
    out: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.split(" #")[0].rstrip() if not raw.lstrip().startswith("#") else ""
        if line.endswith("\\"):
            pending += line[:-1].strip() + " "
            continue
        line = (pending + line.strip()).strip()
        pending = ""
        if line:
            out.append(line)
    if pending.strip():
        out.append(pending.strip())
    return out


def applicable(target: Target, text: str) -> list[Line]:
    """The set's lines that apply to ``target``, sorted: options (``--index-url``) and lines
    layerctl cannot parse (in-repo keys) kept as they are, each requirement without its marker."""
    environment = target_environment(target)
    out: list[Line] = []
    for line in _logical_lines(text):
        words = line.split(" --hash=")
        spec, hashes = words[0].strip(), sorted(h.strip() for h in words[1:])
        if spec.startswith("-"):
            out.append((spec, "", line))
            continue
        try:
            requirement = Requirement(spec)
        except InvalidRequirement:
            out.append((spec, "", line))
            continue
        try:
            if requirement.marker is not None and not requirement.marker.evaluate(environment):
                continue
        except (InvalidMarker, UndefinedComparison, UndefinedEnvironmentName):
            pass  # kept: the installer decides
        requirement.marker = None
        name = canonicalize_name(requirement.name)
        version = str(requirement.specifier) or (requirement.url or "")
        if version.startswith("=="):
            version = version[2:]
        out.append((name, version, " ".join([str(requirement), *hashes])))
    return sorted(out)


def set_digest(lines: list[Line]) -> str:
    return hashlib.sha256("\n".join(line for _, _, line in lines).encode()).hexdigest()


def describe_changes(old: dict[str, str], new: dict[str, str], *, limit: int = 6) -> str:
    """``+orjson 3.10.1, -six 1.16.0, urllib3 2.2.0 -> 2.3.0`` (the first ``limit``, then a count)."""
    changes = [f"+{name} {new[name]}".rstrip() for name in sorted(new.keys() - old.keys())]
    changes += [f"-{name} {old[name]}".rstrip() for name in sorted(old.keys() - new.keys())]
    changes += [
        f"{name} {old[name]} -> {new[name]}"
        for name in sorted(old.keys() & new.keys())
        if old[name] != new[name]
    ]
    if len(changes) > limit:
        return ", ".join(changes[:limit]) + f" and {len(changes) - limit} more"
    return ", ".join(changes)
