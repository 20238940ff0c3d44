"""The shape of the house, checked with the tests: small modules, no import cycles, no module
reaching for another's private names, packages in the order data flows (no stage imports a later
one), and every module in docs/architecture.md's module map."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "orchestrator"
ARCHITECTURE = PACKAGE.parent / "docs" / "architecture.md"
MAX_LINES = 300

# The stages, in the order data flows: a module may import its own stage and earlier ones only.
STAGES = ("core", "workspace", "plan", "resolve", "package", "building", "publish", "report", "run", "cli")
# (importer, imported) pairs allowed to break the order, each with its reason. None today.
STAGE_EXCEPTIONS: dict[tuple[str, str], str] = {}


def modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def imports(name: str, path: Path) -> list[tuple[str, list[str]]]:
    """(imported module, names imported from it) for each import of an orchestrator module."""
    tree = ast.parse(path.read_text())
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            if module.split(".")[0] == "orchestrator":
                found.append((module, [alias.name for alias in node.names]))
        elif isinstance(node, ast.Import):
            found += [(a.name, []) for a in node.names if a.name.split(".")[0] == "orchestrator"]
    return found


def test_no_module_is_over_300_lines() -> None:
    long = {
        name: n for name, path in modules().items() if (n := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}


def test_no_private_name_is_imported_across_modules() -> None:
    known = modules()
    offenders = []
    for name, path in known.items():
        for module, names in imports(name, path):
            for imported in names:
                private = imported.startswith("_") and not imported.startswith("__")
                if private and f"{module}.{imported}" not in known:
                    offenders.append(f"{name} imports {module}.{imported}")
    assert offenders == []


def test_no_import_cycle() -> None:
    known = modules()
    graph: dict[str, set[str]] = {name: set() for name in known}
    for name, path in known.items():
        for module, names in imports(name, path):
            targets = {f"{module}.{n}" for n in names if f"{module}.{n}" in known} or {module}
            graph[name] |= {t for t in targets if t in known and t != name}

    cycles = []
    state: dict[str, int] = {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if nxt.startswith(node + "."):
                continue  # a package importing its own submodules is not a cycle
            if state.get(nxt) == 1:
                cycles.append(" -> ".join([*stack[stack.index(nxt) :], nxt]))
            elif nxt not in state:
                visit(nxt, [*stack, nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert cycles == []


def stage_of(name: str) -> int:
    """A module's stage: the package face (``__version__``) is stage 0, ``__main__`` last."""
    if name == "orchestrator":
        return 0
    if name == "orchestrator.__main__":
        return len(STAGES)
    return STAGES.index(name.split(".")[1])  # a module outside every stage: ValueError


def test_every_module_belongs_to_a_stage() -> None:
    outside = [
        name
        for name in modules()
        if name not in ("orchestrator", "orchestrator.__main__") and name.split(".")[1] not in STAGES
    ]
    assert outside == []


def test_no_stage_imports_a_later_one() -> None:
    """Top-level and function-level imports alike (``ast.walk`` sees both)."""
    known = modules()
    offenders = []
    for name, path in known.items():
        for module, names in imports(name, path):
            targets = {f"{module}.{n}" for n in names if f"{module}.{n}" in known} or {module}
            for target in sorted(t for t in targets if t in known):
                if stage_of(target) > stage_of(name) and (name, target) not in STAGE_EXCEPTIONS:
                    offenders.append(f"{name} imports {target}")
    assert offenders == []


def test_the_stage_exceptions_are_still_needed() -> None:
    known = modules()
    used = {
        (name, target)
        for name, path in known.items()
        for module, names in imports(name, path)
        for target in ({f"{module}.{n}" for n in names} | {module})
    }
    assert [pair for pair in STAGE_EXCEPTIONS if pair not in used] == []


def mapped_modules() -> set[str]:
    """The modules docs/architecture.md's module map names: each row's first cell, its
    backquoted paths relative to ``orchestrator/`` (``core/errors.py``)."""
    text = ARCHITECTURE.read_text("utf-8")
    section = text.split("## Module map", 1)[1].split("\n## ", 1)[0]
    found = set()
    for line in section.splitlines():
        if line.startswith("| `"):
            first = line.split("|")[1]
            found |= {part for part in first.split("`")[1::2] if part.endswith(".py")}
    return found


def test_the_module_map_names_every_module() -> None:
    """Every module on disk is a row of the map, and every row a module on disk; a stage
    package's ``__init__.py`` holding only its docstring is the stage's heading, not a row."""
    on_disk = set()
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE).as_posix()
        tree = ast.parse(path.read_text("utf-8"))
        docstring_only = len(tree.body) == 1 and isinstance(tree.body[0], ast.Expr)
        if not (path.name == "__init__.py" and docstring_only):
            on_disk.add(rel)
    mapped = mapped_modules()
    assert {"missing from the map": sorted(on_disk - mapped), "not on disk": sorted(mapped - on_disk)} == {
        "missing from the map": [],
        "not on disk": [],
    }
