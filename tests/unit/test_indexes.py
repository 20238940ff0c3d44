"""The tools' own index configuration and credentials (issue 11): which index is the default,
which are further ones, whose credentials each gets, and what is masked."""

from __future__ import annotations

import re
from pathlib import Path

import anyio
import pytest

from orchestrator.building.executors.container import _pip_files
from orchestrator.core.errors import ConfigError
from orchestrator.core.secrets import Credentials, Index, Masker, index_urls
from orchestrator.core.tools import uv_environment
from orchestrator.workspace.indexes import read_indexes

HERE = Path("layers/a/pyproject.toml")


def _uv(*entries: dict[str, object]) -> dict[str, object]:
    return {"tool": {"uv": {"index": [dict(e) for e in entries]}}}


def test_uv_indexes_default_and_explicit() -> None:
    data = {"tool": {"uv": {"index": [
        {"name": "extra", "url": "https://a.test/simple/"},
        {"name": "corp", "url": "https://corp.test/simple/", "default": True},
        {"name": "pins", "url": "https://pins.test/simple/", "explicit": True},
    ]}}}  # fmt: skip
    indexes = read_indexes(data, HERE, "uv")
    assert [(i.name, i.default, i.explicit) for i in indexes] == [
        ("extra", False, False), ("corp", True, False), ("pins", False, True)
    ]  # fmt: skip
    urls = index_urls(None, indexes, Credentials())
    assert urls.default == "https://corp.test/simple/"
    assert urls.extra == ("https://a.test/simple/", "https://pins.test/simple/")  # explicit ones last


@pytest.mark.parametrize(
    ("sources", "default", "extra"),
    [
        ([("corp", "primary")], "corp", []),  # a primary source replaces the default (not an extra)
        ([("sup", "supplemental"), ("corp", None)], "corp", ["sup"]),  # priority: primary by default
        ([("a", "primary"), ("b", "primary"), ("s", "supplemental")], "a", ["b", "s"]),
        ([("sup", "supplemental")], None, ["sup"]),
        ([("pins", "explicit")], None, ["pins"]),
        ([("PyPI", "primary"), ("corp", "primary")], None, ["corp"]),  # PyPI listed: it stays the default
        ([("old", "default"), ("sec", "secondary")], "old", ["sec"]),
    ],
)
def test_poetry_sources_by_priority(
    sources: list[tuple[str, str | None]], default: str | None, extra: list[str]
) -> None:
    table = [
        {"name": n, **({"url": f"https://{n}.test/simple/"} if n != "PyPI" else {}), **({"priority": p} if p else {})}
        for n, p in sources
    ]  # fmt: skip
    urls = index_urls(
        None, read_indexes({"tool": {"poetry": {"source": table}}}, HERE, "poetry"), Credentials()
    )
    assert urls.default == (f"https://{default}.test/simple/" if default else None)
    assert urls.extra == tuple(f"https://{n}.test/simple/" for n in extra)


def test_layerctls_setting_replaces_the_tools_default() -> None:
    indexes = (Index(name="corp", url="https://corp.test/simple/", default=True),)
    urls = index_urls("https://mirror.test/simple/", indexes, Credentials())
    assert urls.default == "https://mirror.test/simple/" and urls.extra == ()


def test_credentials_from_the_tools_own_variables_by_index_name() -> None:
    creds = Credentials.from_env({
        "UV_INDEX_CORP_NET_USERNAME": "u1", "UV_INDEX_CORP_NET_PASSWORD": "pw/one",
        "POETRY_HTTP_BASIC_SUP_USERNAME": "u2", "POETRY_HTTP_BASIC_SUP_PASSWORD": "pw:two",
    })  # fmt: skip
    indexes = (
        Index(name="corp.net", url="https://corp.test/simple/", default=True),
        Index(name="sup", url="https://sup.test/simple/"),
        Index(name="open", url="https://open.test/simple/"),
    )
    urls = index_urls(None, indexes, creds)
    assert urls.default == "https://u1:pw%2Fone@corp.test/simple/"
    assert urls.extra == ("https://u2:pw%3Atwo@sup.test/simple/", "https://open.test/simple/")
    environ = {**creds.named, "LAYERCTL_INDEX_USERNAME": "u3", "LAYERCTL_INDEX_PASSWORD": "pw-three"}
    mask = Masker.for_credentials(Credentials.from_env(environ))
    assert mask("pw/one pw%2Fone pw:two pw-three u1") == "**** **** **** **** u1"


def test_native_installs_get_the_indexes_in_uvs_environment() -> None:
    env = uv_environment(
        "https://d.test/s/", extra_index_urls=("https://a.test/s/", "https://b.test/s/"), base={}
    )
    assert env == {"UV_DEFAULT_INDEX": "https://d.test/s/", "UV_INDEX": "https://a.test/s/ https://b.test/s/"}


def test_container_pip_conf_names_every_index() -> None:
    index_url, extra_index_urls = "https://u:p@d.test/s/", ("https://a.test/s/", "https://u:q@b.test/s/")
    files = anyio.run(_pip_files, index_url, None, extra_index_urls)
    assert files["pip.conf"].decode() == (
        "[global]\nindex-url = https://u:p@d.test/s/\n"
        "extra-index-url =\n    https://a.test/s/\n    https://u:q@b.test/s/\n"
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (_uv({"name": "x", "url": "ftp://x"}), "[[tool.uv.index]] 'x': url must be the http(s) URL"),
        (_uv({"name": "x", "url": "https://x/", "format": "flat"}), "format 'flat' is not supported"),
        ({"tool": {"poetry": {"source": [{"url": "https://x/"}]}}}, "every index needs a name"),
        (
            {"tool": {"poetry": {"source": [{"name": "x", "url": "https://x/", "priority": "top"}]}}},
            "priority 'top'",
        ),
        (  # found by the fuzz test: a TypeError (unhashable) before
            {"tool": {"poetry": {"source": [{"name": "x", "url": "https://x/", "priority": []}]}}},
            "priority [] is not one of",
        ),
    ],
)
def test_bad_index_tables_name_file_and_field(data: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)) as info:
        read_indexes(data, HERE, "pip")
    assert info.value.message.startswith(f"{HERE}: ")
