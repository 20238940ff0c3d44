"""The summary table drawn without rich's layout (a 5,000-target run's summary) is exactly what
rich draws; rich draws it whenever it would lay anything out or colour it."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest
from rich.console import Console

from orchestrator.core.events import PublishResult, TargetResult
from orchestrator.report.reporters.summary import summary_table, write_summary


def row(name: str, status: str = "built", **fields: object) -> TargetResult:
    base: dict[str, object] = {
        "id": f"{name}:py3.12-x86_64",
        "layer": name,
        "python": "3.12",
        "arch": "x86_64",
        "tool": "pip",
        "builder": "native",
        "status": status,
        "duration_s": 1.25,
    }
    if status in ("built", "up-to-date"):
        base.update(unzipped_size=12_345_678, zipped_size=4_321, sha256="ab" * 32)
    return TargetResult.model_validate({**base, **fields})


def drawn(results: list[TargetResult], *, record: bool, width: int = 120) -> str:
    out = io.StringIO()
    # record=True: rich draws it (the plain drawing steps aside for a console that records)
    summary_table(results, Console(file=out, width=width, highlight=False, record=record))
    return out.getvalue()


CASES = {
    "one": [row("a")],
    "mixed": [
        row("web"),
        row("data-long.name_1", "failed", error="boom"),
        row("x", "up-to-date"),
        row("y", "cancelled"),
        row("z", "not-run", builder="container"),
    ],
    "many": [row(f"l{i:04d}", "built" if i % 7 else "failed") for i in range(300)],
    "published": [
        row(
            "a",
            publish=[
                PublishResult(
                    region="eu-west-1", layer_name="a", status="published", arn="arn:x:1", version=1
                )
            ],
        ),
        row("b"),
    ],
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_plain_table_is_what_rich_draws(name: str) -> None:
    assert drawn(CASES[name], record=False) == drawn(CASES[name], record=True)


@pytest.mark.parametrize("width", [60, 86, 85, 200])
def test_a_table_wider_than_the_console_is_laid_out_by_rich(width: int) -> None:
    results = [row("a"), row("b" * 40)]
    assert drawn(results, record=False, width=width) == drawn(results, record=True, width=width)


def test_a_cell_rich_would_read_as_markup_or_emoji_is_drawn_by_rich() -> None:
    results = [row("a", "failed", builder="[bold]x[/]"), row("b", builder=":smile:")]
    assert drawn(results, record=False) == drawn(results, record=True)
    assert "[bold]" not in drawn(results, record=False)


def test_a_plain_console_gets_the_table_without_rich_laying_it_out(monkeypatch: pytest.MonkeyPatch) -> None:
    expected = drawn(CASES["many"], record=True)

    def no_layout(*args: object, **kwargs: object) -> None:
        raise AssertionError("rich laid the table out")

    monkeypatch.setattr("rich.table.Table", no_layout)
    assert drawn(CASES["many"], record=False) == expected


def written(results: list[TargetResult], width: int = 120) -> str:
    out = io.StringIO()
    write_summary(results, out, width=width)
    return out.getvalue()


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_log_gets_the_table_rich_draws_without_a_console(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.delenv("TTY_COMPATIBLE", raising=False)
    assert written(CASES[name]) == drawn(CASES[name], record=True)


@pytest.mark.parametrize("width", [60, 86, 85, 200])
def test_a_log_too_narrow_for_the_table_gets_rich_s_layout(
    width: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.delenv("TTY_COMPATIBLE", raising=False)
    results = [row("a"), row("b" * 40)]
    assert written(results, width) == drawn(results, record=True, width=width)


@pytest.mark.parametrize(
    ("variables", "coloured"),
    [({"FORCE_COLOR": "1"}, True), ({"FORCE_COLOR": ""}, False), ({"TTY_COMPATIBLE": "1"}, True),
     ({"TTY_COMPATIBLE": "0", "FORCE_COLOR": "1"}, False)],
)  # fmt: skip
def test_a_log_rich_would_colour_is_drawn_as_rich_draws_it(
    variables: dict[str, str], coloured: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.delenv("TTY_COMPATIBLE", raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    results = CASES["mixed"]
    rich_out = io.StringIO()
    summary_table(results, Console(file=rich_out, width=120, highlight=False))
    assert written(results) == rich_out.getvalue()
    assert ("\x1b[" in written(results)) is coloured


def test_a_plain_run_s_summary_imports_no_rich() -> None:
    code = (
        "import io, sys\n"
        "from orchestrator.report.reporters.summary import write_summary\n"
        "from orchestrator.core.events import TargetResult\n"
        "r = TargetResult(id='a:py3.12-x86_64', layer='a', python='3.12', arch='x86_64', tool='pip', "
        "builder='native', status='up-to-date', duration_s=0.0)\n"
        "out = io.StringIO(); write_summary([r], out)\n"
        "assert 'layerctl summary' in out.getvalue()\n"
        "print(sorted(m for m in sys.modules if m == 'rich' or m.startswith('rich.')))\n"
    )
    env = {"PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert result.stdout.strip() == "[]"
