"""Credential handling, masking, handing files to a container on stdin (the receiving sh script
run by the host's shells), and the module list `verify` imports."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from orchestrator.building.executors.probe import receive_script, stdin_payload
from orchestrator.core.errors import ConfigError
from orchestrator.core.secrets import Credentials, Masker, index_url_with_credentials
from orchestrator.run.verify import top_level_modules


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
        == "pip: https://****@host/simple and ****"  # a URL's user information is masked whole
    )
    assert Masker()("nothing to hide") == "nothing to hide"


def test_index_url_setting_refuses_credentials(make_workspace: Callable[..., Path]) -> None:
    from orchestrator.workspace.config import load_workspace

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


def test_masker_finds_secrets_anywhere_in_a_request_body() -> None:
    mask = Masker.for_credentials(Credentials("aws", "t/k@n:x"))
    body = {"Image": "i", "Env": ["HOME=/tmp"], "HostConfig": {"Binds": ["/a:/b:ro"]}, "Labels": {"k": "v"}}
    assert not mask.found_in(body)
    assert mask.found_in({**body, "Env": ["PIP_INDEX_URL=https://aws:t%2Fk%40n%3Ax@host/simple"]})
    assert mask.found_in({**body, "Labels": {"t/k@n:x": "v"}})
    assert mask.found_in(("a", ["b", {"c": "x t/k@n:x"}]))
    assert not Masker().found_in(body)


# Files a container gets on stdin, read by the same sh script as in the container (dash, and
# bash where there is one: the images' /bin/sh is one of them).
SHELLS = [sh for sh in ("/bin/sh", "/bin/dash", "/bin/bash") if os.path.exists(sh)]


@pytest.mark.parametrize("shell", SHELLS)
def test_files_on_stdin_arrive_byte_for_byte(shell: str, tmp_path: Path) -> None:
    pem = "-----BEGIN CERTIFICATE-----\nMIIB\\x  spaced  \r\n\t-leading dash\n-----END CERTIFICATE-----\n"
    files = {
        "pip.conf": b"[global]\nindex-url = https://u:p%40ss%25w@host/simple/\n",
        "ca.pem": pem.encode() * 200,
        "netrc": b"machine host login u password 'p ss' $HOME `x`",  # no last newline
        "empty": b"",
        "file": b"end\nfile x 3\n",  # frame words inside a file are just text
    }
    script = "set -eu\n" + receive_script(str(tmp_path)) + 'echo "after: $(cat)"\n'
    result = subprocess.run(
        [shell, "-c", script], input=stdin_payload(files) + b"rest\n", capture_output=True, check=True
    )
    assert result.stdout == b"after: rest\n" and result.stderr == b""
    for name, data in files.items():
        got = (tmp_path / name).read_bytes()
        assert got == (data + b"\n" if data and not data.endswith(b"\n") else data), name
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o600


def test_no_files_on_stdin_is_no_wait(tmp_path: Path) -> None:
    script = "set -eu\n" + receive_script(str(tmp_path)) + "echo done\n"
    result = subprocess.run(
        ["/bin/sh", "-c", script], stdin=subprocess.DEVNULL, capture_output=True, timeout=10
    )
    assert result.stdout == b"done\n" and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["../etc/passwd", "a b", ".hidden", ""])
def test_stdin_files_have_plain_names(name: str) -> None:
    with pytest.raises(ValueError, match="a plain name and text only"):
        stdin_payload({name: b"x"})
    with pytest.raises(ValueError):
        stdin_payload({"bin": b"\x00\x01"})
