"""Runs the GitHub workflow of docs/ci.md on this machine, job by job, step by step, as a runner
would: every ``run:`` step (and every ``run:`` step of the composite action, action.yml) with
bash, in the job's own fresh checkout, with the variables GitHub sets (``GITHUB_OUTPUT``,
``GITHUB_STEP_SUMMARY``, ``GITHUB_PATH``, ``RUNNER_TEMP``...), its ``${{ }}`` expressions
evaluated from the job's contexts (matrix, inputs, steps, needs, env, secrets, github).

What is simulated, not run (a ``uses:`` step this machine cannot run):

* ``actions/checkout``: a fresh copy of examples/monorepo (``checkout``, its uv layer locked as a
  repository would commit it);
* ``actions/setup-python``: nothing (this Python runs the steps);
* ``aws-actions/configure-aws-credentials``: the AWS variables of the test's moto server
  (``aws_env``) and ``AWS_REGION`` from its ``aws-region``; the role it would assume is recorded;
* ``actions/upload-artifact`` / ``download-artifact``: copies into and out of one artifact
  directory per workflow run (a name uploaded twice fails, as v4 does);
* the action's ``install`` step (pip install of layerctl's checkout into a venv): this test's
  own environment, whose bin directory it puts on ``GITHUB_PATH`` as the step does.

Jobs run one after another, each on its own "runner": a directory with its own HOME (layerctl's
local state), its workspace and its temp; uv's cache is shared (``base_env``). A matrix's rows run
at once, as GitHub runs them (each row's steps in order; ``jobs`` keeps the rows' order)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
_EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
_NAME = re.compile(r"'[^']*'|([A-Za-z_][\w-]*(?:\.[\w-]+)+)")
Context = dict[str, Any]


def workflow_of(doc: Path = ROOT / "docs" / "ci.md", heading: str = "## GitHub Actions") -> dict[str, Any]:
    """The first ```yaml block after ``heading`` in ``doc``."""
    text = doc.read_text().split(heading, 1)[1]
    block = text.split("```yaml\n", 1)[1].split("\n```", 1)[0]
    data = yaml.safe_load(block)
    assert isinstance(data, dict)
    return data


def evaluate(expr: str, ctx: Context) -> Any:
    """A GitHub expression of the forms the workflow uses: contexts (``matrix.runs-on``),
    'strings', ==, !=, &&, ||, always() and fromJSON(); an unknown context is an error."""

    def get(dotted: str) -> Any:
        top, *rest = dotted.split(".")
        if top not in ctx:
            raise KeyError(f"the workflow uses a context the simulation lacks: {dotted}")
        value = ctx[top]
        for part in rest:
            value = value.get(part, "") if isinstance(value, dict) else ""
        return value

    python = _NAME.sub(lambda m: m[0] if m[1] is None else f"_get({m[1]!r})", expr)
    python = python.replace("&&", " and ").replace("||", " or ").replace("always()", "True")
    python = python.replace("fromJSON(", "_json(")
    return eval(python, {"__builtins__": {}}, {"_get": get, "_json": json.loads, "True": True})


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return "" if value is None else str(value)


def expand(value: Any, ctx: Context) -> str:
    return _EXPR.sub(lambda m: _text(evaluate(m[1], ctx)), str(value))


def condition(text: Any, ctx: Context) -> bool:
    if text is None:
        return True
    inner = _EXPR.fullmatch(str(text).strip())
    return bool(evaluate(inner[1] if inner else str(text), ctx))


def read_outputs(path: Path) -> dict[str, str]:
    """``name=value`` lines and ``name<<DELIMITER`` blocks, as GitHub reads ``$GITHUB_OUTPUT``."""
    outputs, lines = {}, path.read_text().splitlines() if path.exists() else []
    while lines:
        line = lines.pop(0)
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            end = lines.index(delimiter)
            outputs[name], lines = "\n".join(lines[:end]), lines[end + 1 :]
        elif "=" in line:
            name, value = line.split("=", 1)
            outputs[name] = value
    return outputs


@dataclass
class Job:
    """One job on one runner (a matrix row of it): its workspace, its environment, its contexts."""

    name: str
    runner: Path
    ctx: Context
    env: dict[str, str]
    paths: list[str] = field(default_factory=list)
    runs_on: str = ""
    summary: Path = field(init=False)
    count: int = 0

    def __post_init__(self) -> None:
        for sub in ("home", "temp", "workspace"):
            (self.runner / sub).mkdir(parents=True)
        self.summary = self.runner / "step_summary.md"
        self.summary.touch()

    @property
    def workspace(self) -> Path:
        return self.runner / "workspace" / "monorepo"


@dataclass
class WorkflowRun:
    """One run of the workflow for an event (``push`` to main, or ``pull_request``)."""

    workflow: dict[str, Any]
    base: Path
    event: str
    base_env: Mapping[str, str]
    secrets: Mapping[str, str]
    aws_env: Mapping[str, str]
    checkout: Callable[[Path], Path]
    jobs: dict[str, list[Job]] = field(default_factory=dict)
    roles: list[str] = field(default_factory=list)
    log: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.artifacts = self.base / "artifacts"
        self.artifacts.mkdir(parents=True)
        self.action = yaml.safe_load((ROOT / "action.yml").read_text())

    def github(self) -> dict[str, str]:
        ref = "refs/heads/main" if self.event == "push" else "refs/pull/7/merge"
        return {"event_name": self.event, "ref": ref}

    def run(self) -> None:
        done: dict[str, dict[str, Any]] = {}
        for name, spec in self.workflow["jobs"].items():
            needs = spec.get("needs", [])
            needs = [needs] if isinstance(needs, str) else needs
            ctx: Context = {
                "github": self.github(),
                "env": dict(self.workflow.get("env", {})),
                "secrets": dict(self.secrets),
                "needs": {n: done[n] for n in needs},
            }
            if not condition(spec.get("if"), ctx):
                self.log.append(f"{name}: skipped")
                continue
            rows: list[dict[str, Any]] = [{}]
            if "strategy" in spec:
                matrix = evaluate(_EXPR.fullmatch(spec["strategy"]["matrix"])[1], ctx)  # type: ignore[index]
                rows = matrix["include"]
            names = [name] if len(rows) == 1 else [f"{name}-{k}" for k in range(1, len(rows) + 1)]
            with ThreadPoolExecutor(max_workers=len(rows)) as runners:
                running = [
                    runners.submit(self.job, n, spec, {**ctx, "matrix": row})
                    for n, row in zip(names, rows, strict=True)
                ]
                self.jobs[name] = [job.result() for job in running]
            outputs = {o: expand(v, self.jobs[name][-1].ctx) for o, v in spec.get("outputs", {}).items()}
            done[name] = {"outputs": outputs, "result": "success"}

    def job(self, name: str, spec: dict[str, Any], ctx: Context) -> Job:
        runner = self.base / name
        job = Job(name, runner, {**ctx, "steps": {}, "runner": {"temp": str(runner / "temp")}}, {})
        job.runs_on = expand(spec["runs-on"], job.ctx)
        job.env = {
            **self.base_env,
            "HOME": str(runner / "home"),
            "RUNNER_TEMP": str(runner / "temp"),
            "GITHUB_ACTIONS": "true",
            "CI": "true",
            "GITHUB_WORKSPACE": str(job.workspace),
            "GITHUB_EVENT_NAME": self.event,
            "GITHUB_REF": self.github()["ref"],
            "GITHUB_STEP_SUMMARY": str(job.summary),
            **{k: expand(v, ctx) for k, v in {**self.workflow.get("env", {}), **spec.get("env", {})}.items()},
        }
        for step in spec["steps"]:
            self.step(job, step, job.ctx)
        return job

    def step(self, job: Job, step: dict[str, Any], ctx: Context, env: Mapping[str, str] = {}) -> None:
        if not condition(step.get("if"), ctx):
            return
        env = {**env, **{k: expand(v, ctx) for k, v in step.get("env", {}).items()}}
        outputs: dict[str, str] = {}
        if "run" in step:
            outputs = self.shell(
                job, expand(step["run"], ctx), env, expand(step.get("working-directory", "."), ctx)
            )
        else:
            uses = str(step["uses"])
            given = {k: expand(v, ctx) for k, v in step.get("with", {}).items()}
            outputs = self.uses(job, uses, given, env)
        if "id" in step:
            ctx["steps"][step["id"]] = {"outputs": outputs}

    def shell(self, job: Job, script: str, env: Mapping[str, str], cwd: str) -> dict[str, str]:
        job.count += 1
        output, paths = job.runner / f"output-{job.count}", job.runner / f"path-{job.count}"
        output.touch()
        paths.touch()
        path = ":".join([*reversed(job.paths), job.env["PATH"]])
        full = {**job.env, **env, "PATH": path, "GITHUB_OUTPUT": str(output), "GITHUB_PATH": str(paths)}
        script_file = job.runner / "temp" / f"step-{job.count}.sh"
        script_file.write_text(script)
        where = (job.workspace / cwd).resolve()
        result = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script_file)],
            cwd=where, env=full, capture_output=True, text=True, check=False, timeout=900,
        )  # fmt: skip
        self.log.append(f"{job.name}$ {script.strip()}\n{result.stdout}{result.stderr}")
        if result.returncode != 0:
            raise AssertionError(f"{job.name}: step failed ({result.returncode}): {script}\n{self.log[-1]}")
        job.paths += [line for line in paths.read_text().splitlines() if line]
        return read_outputs(output)

    def uses(self, job: Job, uses: str, given: dict[str, str], env: Mapping[str, str]) -> dict[str, str]:
        action = uses.split("@")[0]
        if action == "actions/checkout":
            self.checkout(job.workspace)
        elif action == "actions/setup-python":
            pass
        elif action == "aws-actions/configure-aws-credentials":
            self.roles.append(given["role-to-assume"])
            job.env.update({**self.aws_env, "AWS_REGION": given["aws-region"]})
        elif action == "actions/upload-artifact":
            self.upload(job, given)
        elif action == "actions/download-artifact":
            dest = job.workspace / given["path"]
            for found in sorted(self.artifacts.glob(given["pattern"])):
                shutil.copytree(found, dest / found.name)
        elif action.endswith("/layerctl") or action == ".":
            return self.composite(job, given, env)
        else:
            raise AssertionError(f"the workflow uses an action the simulation lacks: {uses}")
        return {}

    def upload(self, job: Job, given: dict[str, str]) -> None:
        name, source = given["name"], job.workspace / given["path"]
        target = self.artifacts / name
        if target.exists():
            raise AssertionError(f"{job.name}: artifact {name!r} uploaded twice")
        if source.is_dir():
            shutil.copytree(source, target)
        elif source.is_file():
            target.mkdir()
            shutil.copy2(source, target / source.name)
        elif given.get("if-no-files-found") not in ("ignore", "warn"):
            raise AssertionError(f"{job.name}: nothing to upload at {source}")

    def composite(self, job: Job, given: dict[str, str], env: Mapping[str, str]) -> dict[str, str]:
        """The steps of action.yml, its inputs from ``with:`` over their defaults."""
        inputs = {k: str(v.get("default", "")) for k, v in self.action["inputs"].items()}
        unknown = set(given) - set(inputs)
        if unknown:
            raise AssertionError(f"{job.name}: the action has no input {sorted(unknown)}")
        ctx: Context = {
            **job.ctx,
            "inputs": {**inputs, **given},
            "steps": {},
            "github": {**job.ctx["github"], "action_path": str(ROOT)},
        }
        for step in self.action["runs"]["steps"]:
            if step.get("id") == "install":  # simulated: this environment, on PATH as the step puts it
                job.paths.append(str(Path(sys.executable).parent))
                continue
            self.step(job, step, ctx, env)
        return {name: expand(o["value"], ctx) for name, o in self.action["outputs"].items()}
