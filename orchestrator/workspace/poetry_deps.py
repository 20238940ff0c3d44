"""Poetry-style projects (``[tool.poetry.dependencies]``, no ``[project]``): their Python
constraint as ``requires-python`` and their main dependencies as PEP 508 strings.

Poetry's constraint language is small: ``^`` (up to the next change of the first non-zero part),
``~`` (up to the next minor, or major when only the major is given), ``*``, bare versions (``==``),
wildcards, and comparisons joined by commas or spaces. Each maps exactly to PEP 440, as
poetry-core's own ``to_pep_508`` does (a test compares the two on many cases); an ``||`` union
has no PEP 440 form and is refused with the field it is in. Optional dependencies belong to an
extra and are not part of a layer's set.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet

from ..core.errors import ConfigError

__all__ = ["poetry_dependencies", "poetry_requires_python", "to_specifier"]

_COMPARISON = re.compile(r"^(===|==|!=|<=|>=|~=|<|>|=)?\s*(\S+)$")


def to_specifier(constraint: str, where: str) -> str:
    """A Poetry version constraint as a PEP 440 specifier string ('' for any version)."""
    text = constraint.strip()
    if "||" in text or re.search(r"(?<![|])\|(?![|])", text):
        raise ConfigError(
            f"{where}: {constraint!r} is a union of ranges, which a requirement cannot express; "
            "write one range, or list the alternatives as a multiple-constraints dependency"
        )
    parts = [p for chunk in text.split(",") for p in _and_parts(chunk)]
    specs = [spec for part in parts if (spec := _one(part, constraint, where))]
    result = ",".join(specs)
    try:
        SpecifierSet(result)
    except InvalidSpecifier:
        raise ConfigError(f"{where}: {constraint!r} is not a version constraint") from None
    return result


def _and_parts(chunk: str) -> list[str]:
    """``>=1.2 <2.0`` is two constraints; ``>= 1.2`` is one (an operator keeps its version)."""
    words = chunk.split()
    parts: list[str] = []
    for word in words:
        if parts and re.fullmatch(r"===|==|!=|<=|>=|~=|<|>|=|\^|~", parts[-1]):
            parts[-1] += word
        else:
            parts.append(word)
    return parts


def _one(part: str, constraint: str, where: str) -> str:
    if part in ("*", ""):
        return ""
    if part.startswith("^"):
        return _caret(part[1:], constraint, where)
    if part.startswith("~") and not part.startswith("~="):
        return _tilde(part[1:], constraint, where)
    match = _COMPARISON.match(part)
    if not match:
        raise ConfigError(f"{where}: {constraint!r} is not a version constraint")
    op, version = match.group(1) or "==", match.group(2)
    return f"{'==' if op == '=' else op}{version}"


def _release(version: str, constraint: str, where: str) -> list[int]:
    match = re.match(r"^v?(\d+(?:\.\d+)*)", version)
    if not match:
        raise ConfigError(f"{where}: {constraint!r} is not a version constraint")
    return [int(p) for p in match.group(1).split(".")]


def _caret(version: str, constraint: str, where: str) -> str:
    release = _release(version, constraint, where)
    first = next((i for i, p in enumerate(release) if p != 0), len(release) - 1)
    bump = min(first, len(release) - 1)
    upper = [*release[:bump], release[bump] + 1] + [0] * (len(release) - bump - 1)
    return f">={version},<{'.'.join(map(str, upper))}"


def _tilde(version: str, constraint: str, where: str) -> str:
    release = _release(version, constraint, where)
    bump = 0 if len(release) == 1 else 1
    upper = [*release[:bump], release[bump] + 1] + [0] * (len(release) - bump - 1)
    return f">={version},<{'.'.join(map(str, upper))}"


def poetry_requires_python(poetry: dict[str, Any], pyproject: Path) -> str:
    """``[tool.poetry.dependencies] python`` as a requires-python specifier ('' if absent)."""
    deps = poetry.get("dependencies") or {}
    python = deps.get("python") if isinstance(deps, dict) else None
    if python is None:
        return ""
    if not isinstance(python, str):
        raise ConfigError(
            f"{pyproject}: [tool.poetry.dependencies] python must be a version constraint string"
        )
    return to_specifier(python, f"{pyproject}: [tool.poetry.dependencies] python")


def poetry_dependencies(poetry: dict[str, Any], pyproject: Path) -> tuple[str, ...]:
    """The main dependencies of ``[tool.poetry.dependencies]`` as PEP 508 strings."""
    deps = poetry.get("dependencies") or {}
    if not isinstance(deps, dict):
        raise ConfigError(f"{pyproject}: [tool.poetry.dependencies] must be a table")
    found: list[str] = []
    for name, spec in deps.items():
        if name.lower() == "python":
            continue
        where = f"{pyproject}: [tool.poetry.dependencies] {name}"
        alternatives = spec if isinstance(spec, list) else [spec]
        for alternative in alternatives:
            line = _requirement(name, alternative, pyproject, where)
            if line is not None:
                found.append(line)
    return tuple(found)


def _requirement(name: str, spec: Any, pyproject: Path, where: str) -> str | None:
    if isinstance(spec, str):
        spec = {"version": spec}
    if not isinstance(spec, dict):
        raise ConfigError(f"{where}: must be a version constraint or a table")
    if spec.get("optional") is True:
        return None  # only installed through an extra
    extras = spec.get("extras") or []
    if not isinstance(extras, list) or not all(isinstance(e, str) for e in extras):
        raise ConfigError(f"{where}: extras must be a list of names")
    head = f"{name}[{','.join(extras)}]" if extras else name
    for key in ("git", "rev", "tag", "branch", "subdirectory", "path", "url", "platform", "markers"):
        if key in spec and not isinstance(spec[key], str):
            raise ConfigError(f"{where}: {key} must be a string")
    if "git" in spec:
        ref = spec.get("rev") or spec.get("tag") or spec.get("branch")
        sub = f"#subdirectory={spec['subdirectory']}" if spec.get("subdirectory") else ""
        body = f" @ git+{spec['git']}{'@' + ref if ref else ''}{sub}"
    elif "path" in spec:
        body = f" @ {(pyproject.parent / str(spec['path'])).resolve().as_uri()}"
    elif "url" in spec:
        body = f" @ {spec['url']}"
    else:
        version = spec.get("version", "*")
        if not isinstance(version, str):
            raise ConfigError(f"{where}: version must be a string")
        body = to_specifier(version, where)
    markers = _markers(spec, where)
    line = f"{head}{body}" + (f" ; {markers}" if markers else "")
    try:
        Requirement(line)
    except InvalidRequirement as exc:
        raise ConfigError(f"{where}: cannot be written as a requirement: {exc}") from None
    return line


def _markers(spec: dict[str, Any], where: str) -> str:
    clauses: list[str] = []
    python = spec.get("python")
    if python is not None:
        if not isinstance(python, str):
            raise ConfigError(f"{where}: python must be a version constraint string")
        clauses += [_python_marker(s.operator, s.version) for s in SpecifierSet(to_specifier(python, where))]
    if spec.get("platform"):
        clauses.append(f'sys_platform == "{spec["platform"]}"')
    if spec.get("markers"):
        clauses.append(f"({spec['markers']})")
    return " and ".join(clauses)


def _python_marker(op: str, version: str) -> str:
    """One Python specifier as a marker: ``python_version`` for X.Y, the full version else."""
    short = re.fullmatch(r"\d+(\.\d+)?(\.\*)?", version) is not None
    return f'{"python_version" if short else "python_full_version"} {op} "{version}"'
