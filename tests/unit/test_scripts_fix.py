"""Console-script shebangs pointed at the runtime's interpreter, and the RECORD files that hash
them kept true, for the layouts uv and pip (``--target``) leave behind."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest

from orchestrator.package.scripts_fix import fix_scripts
from orchestrator.package.zip import collect, write_zip
from tests.support.fixtures import record_mismatches

HOST_SCRIPT = b"#!/home/me/.venv/bin/python3\nimport sys\nfrom tool import main\nsys.exit(main())\n"


def _hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def _install(root: Path, script: str, recorded_as: str, newline: str) -> Path:
    """A tree as an installer leaves it: a package, a console script, and a RECORD that lists
    the script as ``recorded_as`` (quoted as the csv module quotes it)."""
    (root / "tool").mkdir(parents=True)
    (root / "tool/__init__.py").write_bytes(b"def main():\n    return 0\n")
    (root / "bin").mkdir()
    (root / "bin" / script).write_bytes(HOST_SCRIPT)
    info = root / "tool-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_bytes(b"Metadata-Version: 2.1\nName: tool\nVersion: 1.0\n")
    quoted = f'"{recorded_as}"' if "," in recorded_as else recorded_as
    rows = [
        f"{quoted},{_hash(HOST_SCRIPT)},{len(HOST_SCRIPT)}",
        f"tool/__init__.py,{_hash((root / 'tool/__init__.py').read_bytes())},25",
        f"tool-1.0.dist-info/METADATA,{_hash((info / 'METADATA').read_bytes())},46",
        "tool-1.0.dist-info/RECORD,,",
    ]
    (info / "RECORD").write_bytes(newline.join(rows).encode() + newline.encode())
    return info / "RECORD"


@pytest.mark.parametrize(
    ("installer", "script", "recorded_as", "newline"),
    [
        ("uv", "tool", "bin/tool", "\n"),
        # pip --target installs into <tmp>/lib/python and <tmp>/bin, then moves both into the
        # target: RECORD keeps the script's path relative to the old place (pypa/pip#7658)
        ("pip --target", "tool", "../../bin/tool", "\r\n"),
        ("a name the csv module quotes", "to,ol", "bin/to,ol", "\n"),
    ],
)
def test_record_matches_the_rewritten_scripts(
    tmp_path: Path, installer: str, script: str, recorded_as: str, newline: str
) -> None:
    root = tmp_path / "python"
    record = _install(root, script, recorded_as, newline)
    assert fix_scripts(root, "3.12") == [f"bin/{script}"]
    assert (root / "bin" / script).read_bytes().startswith(b"#!/var/lang/bin/python3.12\n")
    text = record.read_bytes().decode()
    assert text.count(newline) == 4 and (newline == "\r\n" or "\r" not in text)  # its line ends kept
    zip_path = write_zip(collect(root, []), tmp_path / "layer.zip").path
    assert record_mismatches(zip_path) == []


def test_records_without_rewritten_scripts_are_left_alone(tmp_path: Path) -> None:
    root = tmp_path / "python"
    record = _install(root, "tool", "bin/tool", "\n")
    (root / "bin/tool").write_bytes(b"#!/bin/sh\necho not python\n")  # not a python script
    before = record.read_bytes()
    assert fix_scripts(root, "3.12") == []
    assert record.read_bytes() == before


def test_pip_target_paths_are_set_right_even_with_no_script_to_rewrite(tmp_path: Path) -> None:
    """In the real SAM build images pip's shebang already names /var/lang/bin/pythonX.Y."""
    root = tmp_path / "python"
    record = _install(root, "tool", "../../bin/tool", "\r\n")
    script = b"#!/var/lang/bin/python3.12\nimport sys\n"
    (root / "bin/tool").write_bytes(script)
    text = (
        record.read_bytes()
        .decode()
        .replace(f"{_hash(HOST_SCRIPT)},{len(HOST_SCRIPT)}", f"{_hash(script)},{len(script)}")
    )
    record.write_bytes(text.encode())
    assert fix_scripts(root, "3.12") == []
    assert record.read_bytes() == text.replace("../../bin/tool", "bin/tool").encode()
    assert record_mismatches(write_zip(collect(root, []), tmp_path / "layer.zip").path) == []
