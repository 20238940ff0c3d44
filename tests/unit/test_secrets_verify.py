"""Credential handling, masking, and the module list `verify` imports (pure logic)."""

from __future__ import annotations

import pytest

from orchestrator.errors import ConfigError
from orchestrator.secrets import Credentials, Masker, index_url_with_credentials
from orchestrator.verify import top_level_modules


def test_credentials_go_into_the_url_quoted() -> None:
    creds = Credentials.from_env({"LAYERCTL_INDEX_USERNAME": "aws", "LAYERCTL_INDEX_PASSWORD": "t/k@n:x"})
    url = index_url_with_credentials("https://example.test/simple/", creds)
    assert url == "https://aws:t%2Fk%40n%3Ax@example.test/simple/"
    assert (
        index_url_with_credentials("https://example.test/simple/", Credentials())
        == "https://example.test/simple/"
    )
    assert index_url_with_credentials(None, Credentials()) is None
    assert "t/k@n" not in repr(creds)


def test_credentials_without_an_index_are_an_error() -> None:
    with pytest.raises(
        ConfigError, match="LAYERCTL_INDEX_PASSWORD/LAYERCTL_INDEX_USERNAME are set but no index-url"
    ):
        index_url_with_credentials(None, Credentials("aws", "tok"))


def test_masker_hides_plain_and_quoted_forms() -> None:
    mask = Masker.for_credentials(Credentials("aws", "t/k@n:x"))
    assert (
        mask("pip: https://aws:t%2Fk%40n%3Ax@host/simple and t/k@n:x")
        == "pip: https://aws:****@host/simple and ****"
    )
    assert Masker()("nothing to hide") == "nothing to hide"


def test_index_url_setting_refuses_credentials(make_workspace) -> None:  # type: ignore[no-untyped-def]
    from orchestrator.config import load_workspace

    root = make_workspace('index-url = "https://u:p@example.test/simple"')
    with pytest.raises(ConfigError, match="must not hold credentials; pass them as LAYERCTL_INDEX_USERNAME"):
        load_workspace(root)


def test_top_level_modules() -> None:
    names = [
        "python/numpy/__init__.py",
        "python/numpy-2.2.6.dist-info/METADATA",
        "python/numpy.libs/libgfortran.so",
        "python/six.py",
        "python/_yaml/__init__.py",
        "python/fastsum.cpython-311-aarch64-linux-gnu.so",
        "python/_cffi_backend.abi3.so",
        "python/bin/normalizer",
        "python/google/protobuf/__init__.py",
        "python/README.txt",
        "python/my-data/x.json",
    ]
    assert top_level_modules(names) == ["_cffi_backend", "_yaml", "fastsum", "google", "numpy", "six"]
