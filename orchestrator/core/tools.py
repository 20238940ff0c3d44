"""The external tools layerctl drives (uv ships as a dependency of layerctl): where they are, and
how uv is run so that nothing but the layer project and layerctl's settings decides a build.

uv reads configuration from many places: ``uv.toml`` or ``[tool.uv]`` (and ``[tool.uv.pip]``) in
the working directory and its parents, the user's ``~/.config/uv/uv.toml`` (``XDG_CONFIG_HOME``),
the system's ``/etc/uv/uv.toml`` (``XDG_CONFIG_DIRS``), and dozens of ``UV_*`` variables
(``UV_CONSTRAINT``, ``UV_INDEX_URL``, ``UV_EXCLUDE_NEWER``, ``UV_CONFIG_FILE``...). Any of them
would change what a target installs without changing its input key. So every uv run gets:

* :func:`uv_environment`: the caller's environment without the ``UV_*`` variables that could
  change what is resolved or installed (only those about reaching the index pass: cache, TLS,
  timeouts, credentials);
* ``--no-config`` for the pip interface (``uv pip compile`` / ``install``) and ``uv build``: the
  requirement set (the project) and layerctl's settings are all it needs;
* ``--no-python-downloads``: the target's Python is named by its version, no interpreter is
  fetched; and ``--color never``. :func:`uv_argv` is the one place these flags are spelled: every
  uv run starts its argv there;
* for ``uv export`` of a layer's lock, the layer's own configuration only (its ``uv.toml`` or
  ``[tool.uv]``, found from the layer's directory, exactly what ``uv lock`` run there used; the
  lock records those settings and is checked against them), never a user's or the system's:
  :func:`uv_project_environment`;
* the layer project as the working directory.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from functools import cache
from importlib import resources
from pathlib import Path

import anyio

from .errors import EnvironmentProblem
from .once import Once

__all__ = [
    "UV_PASSTHROUGH",
    "no_wheel_package",
    "tool_version",
    "uv_argv",
    "uv_bin",
    "uv_environment",
    "uv_error",
    "uv_identity",
    "uv_project_environment",
    "uv_version",
]


@cache
def uv_bin() -> str:
    try:
        from uv import find_uv_bin

        return str(find_uv_bin())
    except (ImportError, FileNotFoundError):
        pass
    found = shutil.which("uv")
    if found:
        return found
    raise EnvironmentProblem("uv not found: install layerctl with its dependencies (pip install layerctl)")


def uv_argv(*command: str, project_config: bool = False) -> list[str]:
    """``uv <command>`` with the flags every uv run gets (above): no configuration files, or with
    ``project_config`` (``uv export`` of a lock) the layer's own only, which then comes from
    :func:`uv_project_environment`; no interpreter downloads; no colour. Its environment is
    :func:`uv_environment` (or :func:`uv_project_environment`)."""
    config = () if project_config else ("--no-config",)
    return [uv_bin(), *command, *config, "--no-python-downloads", "--color", "never"]


async def uv_version() -> str:
    """What the uv layerctl runs says with ``--version`` (asked once per run)."""
    return await tool_version(uv_bin())


async def uv_identity() -> str:
    """The uv a native build runs, named without starting it when it is layerctl's own (the
    ``uv`` distribution's binary); any other uv is asked once per run."""
    own = _own_uv()
    return own if own is not None else await tool_version(uv_bin())


@cache
def _own_uv() -> str | None:
    """layerctl's own uv, found and named once per process (every target's freshness asks)."""
    try:
        from uv import find_uv_bin

        find_uv_bin()
        return f"uv {importlib.metadata.version('uv')}"
    except (ImportError, FileNotFoundError, importlib.metadata.PackageNotFoundError):
        return None


_TIMEOUT_S = 30.0
_versions: Once[str] = Once()


async def tool_version(binary: str) -> str:
    """What ``binary --version`` prints, asked once per binary (callers arriving meanwhile wait
    for that answer) in a subprocess the event loop awaits: builds go on while it answers, and a
    tool that does not answer within 30 s is stopped and counted as "unknown"."""
    return await _versions.get(binary, lambda: _ask_version(binary))


async def _ask_version(binary: str) -> str:
    try:
        with anyio.fail_after(_TIMEOUT_S):
            result = await anyio.run_process([binary, "--version"])
    except (OSError, subprocess.CalledProcessError, TimeoutError):
        return "unknown"
    return result.stdout.decode("utf-8", "replace").strip()


# The UV_* variables that pass through to uv: where its cache is, how it reaches the index (TLS,
# timeouts, retries, concurrency) and credentials. None of them changes which distributions are
# chosen. Every other UV_* variable is dropped, including the ones a newer uv may add.
UV_PASSTHROUGH = frozenset(
    {
        "UV_CACHE_DIR",
        "UV_NO_CACHE",
        "UV_NATIVE_TLS",
        "UV_SYSTEM_CERTS",
        "UV_INSECURE_HOST",
        "UV_HTTP_TIMEOUT",
        "UV_REQUEST_TIMEOUT",
        "UV_HTTP_RETRIES",
        "UV_CONCURRENT_DOWNLOADS",
        "UV_CONCURRENT_BUILDS",
        "UV_CONCURRENT_INSTALLS",
        "UV_KEYRING_PROVIDER",
        "UV_CREDENTIALS_DIR",
        "UV_PYTHON_INSTALL_DIR",  # where uv's own interpreters are, to find one
        "UV_NO_PROGRESS",
    }
)
_UV_INDEX_CREDENTIALS = re.compile(r"UV_INDEX_[A-Z0-9_]+_(?:USERNAME|PASSWORD)")


def _passes(name: str) -> bool:
    return not name.startswith("UV_") or name in UV_PASSTHROUGH or bool(_UV_INDEX_CREDENTIALS.fullmatch(name))


def uv_environment(
    index_url: str | None = None,
    ca_bundle: Path | None = None,
    *,
    extra_index_urls: Sequence[str] = (),
    base: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """uv's environment: ``base`` (default ``os.environ``) without the ``UV_*`` variables that
    change resolution, plus the target's indexes (credentials included: the default one as
    ``UV_DEFAULT_INDEX``, the others as ``UV_INDEX``, first = highest priority, as uv's own
    ``--index``) and CA bundle — which go here, never in argv. PATH, HOME, proxies and SSL
    variables pass as they are."""
    env = {name: value for name, value in (os.environ if base is None else base).items() if _passes(name)}
    if index_url:
        env["UV_DEFAULT_INDEX"] = index_url
    if extra_index_urls:
        env["UV_INDEX"] = " ".join(extra_index_urls)
    if ca_bundle:
        env["SSL_CERT_FILE"] = str(ca_bundle)
    return env


def uv_project_environment(*, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of ``uv export``: :func:`uv_environment`, and the user and system
    configuration directories pointed at an empty ``uv/uv.toml`` shipped with layerctl, so uv
    reads the layer's own configuration and nothing else. (``--no-config`` would drop the
    layer's too, and a lock made with, say, ``exclude-newer`` would then look out of date.)"""
    env = uv_environment(base=base)
    empty = str(resources.files("orchestrator").joinpath("resources/no-uv-config"))
    env["XDG_CONFIG_HOME"] = env["XDG_CONFIG_DIRS"] = empty
    return env


# Reading uv's output.

_NO_WHEEL = re.compile(
    r"Because (?P<pkg>[A-Za-z0-9][A-Za-z0-9._-]*)(?:[=<>!~]=?\S*)?(?: was)? has no "
    r"(?:usable wheels|wheels with a matching \S+(?: \S+)? tag|wheels? (?:are|is) available)"
)
_NO_WHEEL_HINT = re.compile(
    r"(?:Wheels are required for|distributions is disabled, but attempted to build) `(?P<pkg>[^`]+)`"
)


def no_wheel_package(lines: tuple[str, ...]) -> str | None:
    """The package uv reported as having no compatible wheel, if that is why it failed."""
    text = " ".join(" ".join(line.split()) for line in lines)  # uv wraps long messages
    for pattern in (_NO_WHEEL, _NO_WHEEL_HINT):
        match = pattern.search(text)
        if match:
            return match.group("pkg")
    return None


def uv_error(lines: tuple[str, ...], fallback: str = "see build.log") -> str:
    """uv's own explanation, on one line: from its ``error:`` line to the end, unwrapped."""
    start = next((i for i, line in enumerate(lines) if line.startswith("error:")), None)
    if start is None:
        return fallback
    text = " ".join(" ".join(line.split()) for line in lines[start:] if not line.startswith("hint:"))
    return text.removeprefix("error: ")
