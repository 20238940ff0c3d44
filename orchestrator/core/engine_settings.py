"""The `[tool.layerctl.engines]` table: the Docker engines a run may build containers on, each
by name, declared once like every setting (``settings.py``). An entry is a Docker context's
name or an engine URL (a string), or a table:

    [tool.layerctl.engines]
    local = "default"                                    # a Docker context
    graviton = { context = "graviton", capacity = 4, platforms = ["arm64"] }
    lab = { url = "tcp://10.0.0.5:2376", cert-path = "/etc/layerctl/lab" }

Without the table a run uses the one engine `DOCKER_HOST` (or the local socket) names."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from pydantic import field_validator, model_validator

from .declare import BUILD, NAME_PATTERN, Model, setting
from .runtimes import Arch

__all__ = ["URL_SCHEMES", "EngineSelection", "EngineSettings", "engine_entry"]

URL_SCHEMES = ("unix", "tcp", "ssh")
_URL = re.compile(r"^([a-z]+)://")


class EngineSelection(Model):
    """The run's choice among the engines (a workspace option: ``WorkspaceOptions`` has it)."""

    engine: tuple[str, ...] = setting(
        (),
        "Build (and verify) containers only on these engines of `[tool.layerctl.engines]` (repeat the flag); default: all of them.",
        flag="--engine",
        commands=BUILD | {"engines", "clean", "verify"},
        metavar="NAME",
        repeated=True,
    )


class EngineSettings(Model):
    """One engine of `[tool.layerctl.engines]`."""

    context: str | None = setting(
        None,
        "A Docker context's name, read from the Docker CLI's context store (`docker context ls`; `DOCKER_CONFIG` honoured), its TLS material included.",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$",
    )
    url: str | None = setting(
        None,
        "The engine's address instead of a context: `unix:///path/docker.sock`, `tcp://host:2376` (TLS with `cert-path`), `ssh://user@host` (needs asyncssh).",
    )
    cert_path: str | None = setting(
        None,
        "With a `tcp://` URL: a directory holding the TLS client material `ca.pem`, `cert.pem`, `key.pem` (as `DOCKER_CERT_PATH`).",
    )
    capacity: int | None = setting(
        None,
        "Container builds at once on this engine (default: the engine's CPUs).",
        ge=1,
        le=256,
        strict=True,
    )
    platforms: tuple[Arch, ...] | None = setting(
        None,
        'Architectures the engine runs natively, e.g. `["arm64"]` (default: the engine\'s own, from its `/info`).',
    )
    emulates: tuple[Arch, ...] | None = setting(
        None,
        "Architectures it may build under emulation (QEMU/binfmt); `[]`: none (default: every other one, checked by running the image).",
    )

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        found = _URL.match(value)
        if not found or found.group(1) not in URL_SCHEMES or len(value) <= len(found.group(0)):
            raise ValueError(f"must be a unix://, tcp:// or ssh:// URL (got {value!r})")
        if found.group(1) != "unix":
            try:  # caught here (exit 2), not when connecting as an engine that does not answer
                parts = urlsplit(value)
                if parts.port == 0 or not parts.hostname:  # .port raises on a bad port
                    raise ValueError("names no host")
            except ValueError as exc:
                raise ValueError(f"{value!r}: {exc}") from None
        return value

    @field_validator("platforms", "emulates", mode="before")
    @classmethod
    def _arches(cls, value: Any) -> Any:
        if value is None:
            return None
        items = value if isinstance(value, (list, tuple)) else [value]
        return tuple((Arch.from_name(i) or i) if isinstance(i, str) else i for i in items)

    @model_validator(mode="after")
    def _one_address(self) -> EngineSettings:
        if (self.context is None) == (self.url is None):
            raise ValueError("give either `context` (a Docker context's name) or `url`, not both or neither")
        if self.cert_path is not None and not (self.url or "").startswith("tcp://"):
            raise ValueError("`cert-path` goes with a tcp:// `url` (a context brings its own TLS material)")
        if self.platforms == ():
            raise ValueError("`platforms`: name at least one architecture, or leave it out to probe")
        return self


def engine_entry(name: str, value: Any) -> dict[str, Any]:
    """An entry of the table as the model's input: a string is a context's name or a URL."""
    if not re.fullmatch(NAME_PATTERN, name):
        raise ValueError(f"engine name {name!r}: letters, digits, '.', '_' and '-' only")
    if isinstance(value, str):
        return {"url": value} if "://" in value else {"context": value}
    if not isinstance(value, dict):
        raise ValueError(f"engine {name}: a context's name, a URL or a table (got {type(value).__name__})")
    return value
