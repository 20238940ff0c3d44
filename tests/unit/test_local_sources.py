"""In-repo projects: which lines of a requirement set name one, which of their files are sources
(and so in the input key), the key text, the rewrite to wheels, and forgetting build paths (of
the set's local files too)."""

from __future__ import annotations

import json
from pathlib import Path

from orchestrator.package.scripts_fix import forget_direct_urls, forget_local_files
from orchestrator.resolve.localsrc import key_text, rewrite, source_digest, source_files
from orchestrator.resolve.reqset import RequirementSet
from orchestrator.resolve.uv import absolute_paths


def project(root: Path) -> Path:
    (root / "src/lib").mkdir(parents=True)
    (root / "pyproject.toml").write_text('[project]\nname = "lib"\nversion = "1"\n')
    (root / "src/lib/__init__.py").write_text("X = 1\n")
    return root


def test_local_lines_are_found_in_every_form(tmp_path: Path) -> None:
    lib = project(tmp_path / "libs/lib")
    text = (
        f"{lib}\n-e {lib}\nlib @ {lib.as_uri()} ; python_version < '3.12'\n"
        f"six==1.17.0 \\\n    --hash=sha256:{'a' * 64}\nwheel @ {(tmp_path / 'x.whl').as_uri()}\n"
        f"{tmp_path / 'missing'}\n# {lib}\n"
    )
    refs = RequirementSet.parse(text).in_repo()
    assert [(ref.path, ref.marker) for ref in refs] == [
        (lib, ""),
        (lib, ""),
        (lib, 'python_version < "3.12"'),
    ]


def test_uv_export_paths_are_made_absolute_against_the_lock(tmp_path: Path) -> None:
    text = "./libs/a\n-e ../b ; sys_platform == 'linux'\nsix==1\n"
    assert absolute_paths(text, tmp_path / "ws") == (
        f"{tmp_path}/ws/libs/a\n-e {tmp_path}/b ; sys_platform == 'linux'\nsix==1\n"
    )


def test_sources_leave_out_build_outputs_caches_and_ignored_files(tmp_path: Path) -> None:
    lib = project(tmp_path / "lib")
    for junk in ("build/lib/x.py", "dist/lib-1.whl", "src/lib.egg-info/PKG-INFO", ".venv/bin/python",
                 "src/lib/__pycache__/x.pyc", "out/py3.12-x86_64/layer.zip", "notes.log"):  # fmt: skip
        (lib / junk).parent.mkdir(parents=True, exist_ok=True)
        (lib / junk).write_text("x")
    (lib / "out/.layerctl-dir").write_text("")  # a directory layerctl writes into
    (lib / ".gitignore").write_text("*.log\n")
    assert source_files(lib) == [".gitignore", "pyproject.toml", "src/lib/__init__.py"]


def test_the_digest_follows_the_sources_only(tmp_path: Path) -> None:
    lib = project(tmp_path / "lib")
    first = source_digest(lib)
    (lib / "build").mkdir()
    (lib / "build/x").write_text("x")
    assert source_digest(lib) == first
    (lib / "src/lib/__init__.py").write_text("X = 2\n")
    second = source_digest(lib)
    assert second != first
    (lib / "src/lib/__init__.py").chmod(0o755)
    assert source_digest(lib) != second


def test_the_key_text_does_not_depend_on_where_the_checkout_is(tmp_path: Path) -> None:
    texts = []
    for where in ("a", "b"):
        root = tmp_path / where
        lib = project(root / "libs/lib")
        layer = root / "layers/l"
        layer.mkdir(parents=True)
        text = f"{lib}\nsix==1\n"
        texts.append(key_text(RequirementSet.parse(text), {lib: "d1g3st"}, layer).text)
    assert texts[0] == texts[1] == "local ../../libs/lib d1g3st\nsix==1\n"


def test_rewrite_pins_the_wheel_by_hash_only_when_the_set_is_hashed(tmp_path: Path) -> None:
    lib = project(tmp_path / "lib")
    wheel = tmp_path / "w/lib-1-py3-none-any.whl"
    wheels = {lib: ("lib", wheel, "f" * 64)}
    hashed = rewrite(
        RequirementSet.parse(f"{lib} ; python_version < '3.13'\nsix==1 \\\n    --hash=sha256:{'a' * 64}\n"),
        wheels,
    ).text
    assert hashed.startswith(
        f"lib @ {wheel.as_uri()} ; python_version < '3.13' \\\n    --hash=sha256:{'f' * 64}\n"
    )
    plain = rewrite(RequirementSet.parse(f"lib @ {lib.as_uri()}\nsix\n"), wheels)
    assert plain.text == f"lib @ {wheel.as_uri()}\nsix\n"


def test_direct_url_and_uv_cache_of_run_wheels_are_forgotten(tmp_path: Path) -> None:
    run = tmp_path / "run"
    site = tmp_path / "python"
    for name, url in (("lib-1", (run / "w/lib-1-py3-none-any.whl").as_uri()), ("other-1", "https://x/o.whl")):
        info = site / f"{name}.dist-info"
        info.mkdir(parents=True)
        (info / "direct_url.json").write_text(json.dumps({"url": url}))
        (info / "uv_cache.json").write_text("{}")
        rows = [f"{name}.dist-info/{f},sha256=x,1" for f in ("METADATA", "direct_url.json", "uv_cache.json")]
        (info / "RECORD").write_text("\n".join([*rows, f"{name}.dist-info/RECORD,,"]) + "\n")
    assert forget_direct_urls(site, run) == ["lib-1.dist-info"]
    assert sorted(p.name for p in (site / "lib-1.dist-info").iterdir()) == ["RECORD"]
    assert (site / "lib-1.dist-info/RECORD").read_text() == (
        "lib-1.dist-info/METADATA,sha256=x,1\nlib-1.dist-info/RECORD,,\n"
    )
    assert (site / "other-1.dist-info/direct_url.json").is_file()


def test_direct_urls_of_the_sets_local_files_are_forgotten_however_spelled(tmp_path: Path) -> None:
    src = tmp_path / "my repo/src"
    sdist, wheel = src / "a-1.tar.gz", src / "b-1-py3-none-any.whl"
    site = tmp_path / "python"
    urls = {
        "a-1": sdist.as_uri(),  # as the set writes it: quoted
        "b-1": f"file://{src}/./{wheel.name}",  # unquoted, not normalised
        "c-1": (src / "c-1.tar.gz").as_uri(),  # a file the set does not name
        "d-1": f"https://x{sdist}",  # the same path, not a file
    }
    for name, url in urls.items():
        info = site / f"{name}.dist-info"
        info.mkdir(parents=True)
        (info / "direct_url.json").write_text(json.dumps({"url": url}))
    assert forget_local_files(site, [sdist, wheel]) == ["a-1.dist-info", "b-1.dist-info"]
    kept = [p.parent.name for p in sorted(site.glob("*/direct_url.json"))]
    assert kept == ["c-1.dist-info", "d-1.dist-info"]
    assert forget_local_files(site, []) == []
