"""Where an engine of `[tool.layerctl.engines]` is: its URL and TLS material, from a URL or from
the Docker CLI's context store, read as the CLI reads it (``$DOCKER_CONFIG``, else
``~/.docker``): ``contexts/meta/<sha256(name)>/meta.json`` holds the endpoint's ``Host`` and
``SkipTLSVerify``, ``contexts/tls/<sha256(name)>/docker/{ca,cert,key}.pem`` its TLS files. The
``default`` context is ``DOCKER_HOST``, else the local socket. Nothing here connects."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import ssl
from dataclasses import dataclass
from pathlib import Path

from ...core.engine_settings import EngineSettings
from ...core.errors import ConfigError, EnvironmentProblem

__all__ = ["DEFAULT", "Endpoint", "docker_config_dir", "endpoint_of"]

DEFAULT = "default"  # the engine of a run without the table, and the Docker CLI's own context
_TLS_FILES = ("ca.pem", "cert.pem", "key.pem")


@dataclass(frozen=True)
class Endpoint:
    """How to reach one engine: ``url`` None is aiodocker's default (``DOCKER_HOST``, the socket)."""

    name: str
    url: str | None = None
    tls_dir: Path | None = None  # ca.pem, cert.pem, key.pem (what exists of them)
    skip_verify: bool = False

    @property
    def where(self) -> str:
        return self.url or os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")

    def client_url(self) -> str | None:
        """The URL aiodocker is given: tcp:// becomes https:// with TLS, http:// without."""
        if self.url is None or not self.url.startswith("tcp://"):
            return self.url
        scheme = "https://" if self.tls_dir is not None else "http://"
        return scheme + self.url.removeprefix("tcp://")

    def ssl_context(self) -> ssl.SSLContext | None:
        """The TLS client context of a tcp:// engine with TLS material (a file that cannot be read
        is this machine's problem, in one line)."""
        if self.tls_dir is None or not (self.url or "").startswith("tcp://"):
            return None
        ca, cert, key = (self.tls_dir / n for n in _TLS_FILES)
        try:
            context = ssl.create_default_context(cafile=str(ca) if ca.is_file() else None)
            if cert.is_file() and key.is_file():
                context.load_cert_chain(str(cert), str(key))
        except (OSError, ssl.SSLError) as exc:
            raise EnvironmentProblem(
                f"engine {self.name}: cannot read its TLS files in {self.tls_dir} ({exc})"
            ) from None
        if self.skip_verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context


def docker_config_dir() -> Path:
    return Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker")


def endpoint_of(name: str, settings: EngineSettings) -> Endpoint:
    """The endpoint of an engine as declared: a URL (with ``cert-path``) or a context's."""
    if settings.url is not None:
        if settings.url.startswith("ssh://"):
            _check_ssh(name)
        tls = Path(settings.cert_path).expanduser() if settings.cert_path else None
        return Endpoint(name, settings.url, tls)
    assert settings.context is not None
    return context_endpoint(name, settings.context)


def context_endpoint(name: str, context: str) -> Endpoint:
    """A Docker context's endpoint, from the CLI's context store."""
    if context == DEFAULT:
        return Endpoint(name, os.environ.get("DOCKER_HOST") or None)
    digest = hashlib.sha256(context.encode()).hexdigest()
    store = docker_config_dir() / "contexts"
    meta_file = store / "meta" / digest / "meta.json"
    try:
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
        docker = meta["Endpoints"]["docker"]
        host = str(docker["Host"])
    except FileNotFoundError:
        raise ConfigError(
            f"engine {name}: no Docker context {context!r} in {store} "
            "(`docker context ls` lists them; DOCKER_CONFIG points at another store)"
        ) from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(
            f"engine {name}: cannot read Docker context {context!r} ({meta_file}: {exc})"
        ) from None
    tls = store / "tls" / digest / "docker"
    try:
        settings = EngineSettings(url=host)  # the same checks as a URL in the table
    except ValueError:
        raise ConfigError(
            f"engine {name}: Docker context {context!r} has endpoint {host!r}, not a unix://, tcp:// or ssh:// URL"
        ) from None
    if host.startswith("ssh://"):
        _check_ssh(name)
    has_tls = any((tls / n).is_file() for n in _TLS_FILES)
    return Endpoint(name, settings.url, tls if has_tls else None, bool(docker.get("SkipTLSVerify")))


def _check_ssh(name: str) -> None:
    """aiodocker reaches ssh:// engines only from 0.25 on, and only with asyncssh installed."""
    if importlib.util.find_spec("aiodocker.ssh") is None or importlib.util.find_spec("asyncssh") is None:
        raise ConfigError(
            f"engine {name}: ssh:// engines need aiodocker's SSH support (aiodocker >= 0.25 and "
            "asyncssh: pip install asyncssh); or use a tcp:// URL with TLS, or a context with one"
        )
