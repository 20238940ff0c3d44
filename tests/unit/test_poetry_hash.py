"""Our content-hash is Poetry's: checked against Poetry's own Locker (a dev dependency) on
generated pyproject.toml files, and our freshness verdict against ``Locker.is_fresh``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator.core._toml import loads
from orchestrator.core.errors import ResolveError
from orchestrator.resolve.poetry import check_fresh, poetry_content_hash, read_poetry_lock
from tests.support.fixtures import EXAMPLE

locker = pytest.importorskip("poetry.packages.locker", reason="needs Poetry (pip install -e '.[dev]')")
tomlkit = pytest.importorskip("tomlkit")

names = st.text("abcdefghijklmnopqrstuvwxyz-_.ABC019", min_size=1, max_size=8)
scalars = st.one_of(
    st.text(max_size=12),  # unicode included: json.dumps escapes it, for both
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(names, inner, max_size=3),
    max_leaves=8,
)
requirements = st.lists(
    st.sampled_from(["numpy>=2", "six", "requests[socks]<3", "tomli; python_version<'3.11'"])
)


def table(required: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[dict[str, Any]]:
    """Any subset of ``required``'s keys (with their own kind of value, or any value at all) plus
    keys Poetry does not hash."""
    keys = {key: st.one_of(strategy, values) for key, strategy in required.items()}
    return st.fixed_dictionaries({}, optional={**keys, "name": names, "version": st.just("1.0")})


pyprojects = st.fixed_dictionaries(
    {},
    optional={
        "project": table(
            {
                "requires-python": st.sampled_from([">=3.10", "", ">=3.9,<4"]),
                "dependencies": requirements,
                "optional-dependencies": st.dictionaries(names, requirements, max_size=2),
            }
        ),
        "dependency-groups": st.dictionaries(names, requirements, max_size=3),
        "tool": st.fixed_dictionaries(
            {},
            optional={
                "poetry": table(
                    {
                        "dependencies": st.dictionaries(names, st.one_of(st.just("*"), values), max_size=3),
                        "dev-dependencies": st.dictionaries(names, st.just("^1"), max_size=2),
                        "group": st.dictionaries(
                            names, st.fixed_dictionaries({"dependencies": st.dictionaries(names, values)})
                        ),
                        "source": st.lists(st.fixed_dictionaries({"name": names, "url": st.just("u")})),
                        "extras": st.dictionaries(names, st.lists(names)),
                        "package-mode": st.booleans(),
                    }
                ),
                "layerctl": st.dictionaries(names, values, max_size=2),
            },
        ),
        "build-system": st.just({"requires": ["poetry-core>=2.0"]}),
    },
)


def poetry_hash(pyproject: dict[str, Any], *, with_dependency_groups: bool = True) -> str:
    made = locker.Locker(Path("/nonexistent/poetry.lock"), pyproject)
    return str(made._get_content_hash(with_dependency_groups=with_dependency_groups))


@settings(max_examples=400, deadline=None)
@given(pyprojects)
def test_content_hash_is_poetrys(pyproject: dict[str, Any]) -> None:
    assert poetry_content_hash(pyproject) == poetry_hash(pyproject)
    assert poetry_content_hash(pyproject, with_dependency_groups=False) == poetry_hash(
        pyproject, with_dependency_groups=False
    )


@pytest.mark.parametrize(
    "pyproject", sorted(EXAMPLE.glob("layers/*/pyproject.toml")), ids=lambda p: p.parent.name
)
def test_content_hash_of_the_examples_is_poetrys(pyproject: Path) -> None:
    data = loads(pyproject.read_text())
    assert poetry_content_hash(data) == poetry_hash(data)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    pyproject=pyprojects,
    generator=st.sampled_from(["2.0.1", "2.2.1", "2.3.0", "2.5.1", "1.8.3", "2.x"]),
    which=st.sampled_from(["current", "without groups", "other"]),
    groups=st.none() | st.dictionaries(names, requirements, min_size=1, max_size=2),
)
def test_freshness_is_poetrys(
    tmp_path: Path, pyproject: dict[str, Any], generator: str, which: str, groups: dict[str, Any] | None
) -> None:
    """Including Poetry's allowance for locks written before 2.3, whose hash left out
    [dependency-groups]: the lock's first line names the Poetry that wrote it."""
    if groups is not None:
        pyproject = {**pyproject, "dependency-groups": groups}
    project = tmp_path / "pyproject.toml"
    project.write_text(tomlkit.dumps(pyproject))
    data = loads(project.read_text())
    recorded = {
        "current": poetry_content_hash(data),
        "without groups": poetry_content_hash(data, with_dependency_groups=False),
        "other": "0" * 64,
    }[which]
    lock = tmp_path / "poetry.lock"
    lock.write_text(
        f"# This file is automatically @generated by Poetry {generator} and should not be changed by hand.\n\n"
        f'[metadata]\nlock-version = "2.1"\npython-versions = "*"\ncontent-hash = "{recorded}"\n'
    )
    theirs = locker.Locker(lock, data).is_fresh()
    try:
        check_fresh(read_poetry_lock(lock), lock, project)
        ours = True
    except ResolveError:
        ours = False
    assert ours == theirs
