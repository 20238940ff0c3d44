"""The shard specs of the command line, parsed (pure): ``--shard K/N`` (or ``auto``: GitLab's
``parallel:`` variables) and ``--shards N|auto``. Validated by the settings' declarations
(``run_settings.py``) and read by ``run/matrix.py``; the split itself is ``plan/shards.py``."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from .errors import ConfigError

__all__ = ["MAX_SHARDS", "ShardSpec", "check_count", "check_spec", "parse_shard", "parse_spec"]

_SPEC = re.compile(r"^([0-9]+)/([0-9]+)$")
# The most shards a selection is split into: far above what a CI fans out over (a GitHub matrix
# runs at most 256 jobs, GitLab's `parallel:` at most 200), and refused when parsed, so an absurd
# N is one line, not a run that sizes anything by it.
MAX_SHARDS = 1000


@dataclass(frozen=True)
class ShardSpec:
    index: int  # 1-based
    total: int

    def __str__(self) -> str:
        return f"{self.index}/{self.total}"


def check_spec(text: str) -> str:
    """``K/N`` with 1 <= K <= N, or ``auto``: the setting's validator (a ValueError names the fix)."""
    if text != "auto":
        _parse(text, "")
    return text


def check_count(text: str) -> str:
    """``--shards``: a count >= 1 or ``auto`` (the setting's validator)."""
    if text == "auto":
        return text
    if not re.fullmatch(r"[0-9]+", text) or not text.lstrip("0"):
        raise ValueError(f"{text!r} is not a shard count: write a number >= 1 or auto")
    _within_cap(text, "")
    return text


def _within_cap(total: str, where: str) -> None:
    """A count above ``MAX_SHARDS`` (its digits only: a huge number is never made an int) refused."""
    digits = total.lstrip("0") or "0"
    if len(digits) > len(str(MAX_SHARDS)) or int(digits) > MAX_SHARDS:
        raise ValueError(
            f"{where}{total} shards is more than layerctl splits a selection into: "
            f"use at most {MAX_SHARDS} (never more shards than targets are used)"
        )


def _parse(text: str, where: str) -> ShardSpec:
    match = _SPEC.match(text.strip())
    if not match:
        raise ValueError(f"{where}{text!r} is not a shard: write K/N (e.g. 1/4) or auto")
    _within_cap(match.group(2), where)
    total = int(match.group(2))
    if total == 0:
        raise ValueError(f"{where}shard {text!r} has no shards: K/N needs N >= 1 (e.g. 1/4)")
    index = int(match.group(1)) if len(match.group(1)) <= 9 else total + 1  # a huge K: out of range
    if not 1 <= index <= total:
        raise ValueError(f"{where}shard {text!r} is out of range: K/N needs 1 <= K <= N (e.g. 1/{total})")
    return ShardSpec(index, total)


def parse_shard(text: str) -> ShardSpec:
    """A ``K/N`` that a report records (a ValueError says what is wrong with it)."""
    return _parse(text, "")


def parse_spec(text: str, environ: Mapping[str, str]) -> ShardSpec:
    """A ``--shard`` value; ``auto``: GitLab's ``parallel:`` variables CI_NODE_INDEX/CI_NODE_TOTAL."""
    if text != "auto":
        return _parse(text, "--shard: ")
    index, total = environ.get("CI_NODE_INDEX"), environ.get("CI_NODE_TOTAL")
    if not index or not total:
        raise ConfigError(
            "--shard auto: CI_NODE_INDEX and CI_NODE_TOTAL are not set (GitLab's `parallel:` sets them); "
            "pass --shard K/N"
        )
    try:
        return _parse(f"{index}/{total}", "--shard auto (CI_NODE_INDEX/CI_NODE_TOTAL): ")
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
