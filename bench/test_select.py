"""Benchmark: `help.py test` selection against pytest-testmon on a real project from PyPI.

Downloads a pure-Python sdist that ships its tests (default: Pygments, 4,400
tests taking ~40 s here; `--package toolz==1.2.0 --module toolz` is a quick one),
makes three git copies of it (help.py's, testmon's, and one for plain full
runs), then applies source mutations one at a time. For each mutation it
compares the tests failing under a full run with the tests each tool selects.

Every tool runs the same tests: paths pytest-testmon cannot fingerprint (no
"." in them, e.g. 49 of Pygments' example files; testmon 2.x stops with
INTERNALERROR on the first, after 251 of 4403 tests) are passed as `--ignore`
to every run, plain pytest included; a crash of testmon is still reported.

Printed: missed failures, selected fraction, recording overhead (a full run
with recording over a plain full run; wall and CPU), mean selective run time
after a mutation relative to a full run, and the no-change rerun.

    python bench/test_select.py [--package pygments==2.18.0] [--mutations 8] [--repeat 5] [--keep]

With `--overhead`, it measures recording cost only, per Python version and per
project (Pygments' snippet tests and toolz by default: both suites are made of
many tiny pure-Python calls), side by side with pytest-testmon. Cold is a fresh
clone, as in CI: no `__pycache__` in the project (so plain pytest compiles the
sources and rewrites the test modules too), no `.help/`, no `.testmondata`, and
an empty user cache (XDG_CACHE_HOME); warm is the same run again. Each tool's
cold run is divided by plain pytest's cold run, its warm run by plain pytest's
warm run. `help.py test --all` once more with `__pycache__` kept but `.help/`
emptied (a first run in a checkout plain pytest has used) is shown apart.
pytest-testmon runs as `pytest --testmon` (cold) and `--testmon-noselect` (warm:
every test runs).

    python bench/test_select.py --overhead [--pythons 3.11,3.12,3.13] [--projects pygments,toolz] [--repeat 2]

Needs network access to PyPI (pip download, venv installs). Never run by the tests.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

HELP = Path(__file__).resolve().parents[1] / "help.py"
sys.path.insert(0, str(HELP.parent / "bench"))
from _peers import clean_python  # noqa: E402

PYTHON = clean_python()  # help.py under a plain interpreter, as the peers' venvs are
# pytest arguments every run gets, so that all tools run the same tests (see `testmon_unreadable`).
COMMON_ARGS: list[str] = []
GIT_ENV = {"GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@b", "GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@b"}


@dataclass
class Timed:
    wall: float
    cpu: float
    code: int
    out: str
    err: str


def run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> Timed:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env={**os.environ, **(env or {})}, capture_output=True, text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Timed(wall, cpu, proc.returncode, proc.stdout, proc.stderr)


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True, env={**os.environ, **GIT_ENV})


# -- the project -------------------------------------------------------------------
def fetch(spec: str, work: Path) -> Path:
    download = work / "download"
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "-q", "--no-binary", ":all:", "--no-deps", spec, "-d", str(download)],
        check=True,
    )
    archive = next(download.glob("*.tar.gz"))
    with tarfile.open(archive) as tar:
        tar.extractall(work / "src", filter="data")
    return next((work / "src").iterdir())


def make_venv(work: Path, test_deps: list[str], python: str = sys.executable, name: str = "venv") -> Path:
    venv = work / name
    uv = shutil.which("uv")
    packages = ["pytest", "pytest-testmon", *test_deps]
    if uv:
        subprocess.run([uv, "venv", "-q", "--python", python, str(venv)], check=True)
        subprocess.run([uv, "pip", "install", "-q", "--python", str(venv / "bin" / "python"), *packages], check=True)
    else:
        subprocess.run([python, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", *packages], check=True)
    return venv


def copy(source: Path, dest: Path) -> Path:
    shutil.copytree(source, dest)
    (dest / ".gitignore").write_text(".help/\n.testmondata*\n__pycache__/\n*.xml\n")
    git(dest, "init", "-q", "-b", "main")
    git(dest, "add", "-A")
    git(dest, "commit", "-qm", "sdist")
    return dest


# -- mutations ---------------------------------------------------------------------
@dataclass
class Mutation:
    name: str
    path: str
    old: str
    new: str


def _sources(root: Path, package: str) -> list[tuple[Path, str]]:
    """The package's own modules (no tests, no private `_*.py`), with their text."""
    found = []
    for path in sorted((root / package).rglob("*.py")):
        if path.name.startswith("_") or "test" in str(path.relative_to(root)):
            continue
        found.append((path, path.read_text()))
    return found


def _changed_literal(node: ast.expr) -> str | None:
    """Source of a different value for a literal (`2` -> `3`, `True` -> `False`, `None` -> `0`), else None."""
    if not isinstance(node, ast.Constant):
        return None
    value = node.value
    if isinstance(value, bool):
        return repr(not value)
    if value is None:
        return "0"
    if isinstance(value, int | float):
        return repr(value + 1)
    if isinstance(value, str):
        return repr(value + "_mutated")
    return None


def _edit(name: str, root: Path, path: Path, source: str, node: ast.expr, new: str) -> Mutation | None:
    """Replace the single-line expression `node` by `new`, keeping enough lines around it to be unique."""
    if node.end_lineno != node.lineno or node.end_col_offset is None:
        return None
    lines = source.splitlines(keepends=True)
    line = lines[node.lineno - 1]
    edited = line[: node.col_offset] + new + line[node.end_col_offset :]
    for extra in range(0, 4):  # lines after it, until the text occurs once in the file
        after = "".join(lines[node.lineno : node.lineno + extra])
        if source.count(line + after) == 1:
            return Mutation(name, str(path.relative_to(root)), line + after, edited + after)
    return None


def default_mutations(root: Path, package: str) -> list[Mutation]:
    """A literal default argument changed (`def f(x, n=2)` -> `n=3`), one per function."""
    found = []
    for path, source in _sources(root, package):
        for node in ast.walk(ast.parse(source)):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            defaults = [d for d in [*node.args.defaults, *node.args.kw_defaults] if d is not None]
            for default in defaults:
                new = _changed_literal(default)
                if new is not None:
                    label = f"{path.stem}.{node.name}: default {ast.unparse(default)} -> {new}"
                    mutation = _edit(label, root, path, source, default, new)
                    if mutation:
                        found.append(mutation)
                        break
    return found


def decorator_mutations(root: Path, package: str) -> list[Mutation]:
    """A decorator's argument changed (`@lru_cache(maxsize=100)` -> `101`, `classval=__doc__` -> `None`)."""
    found = []
    for path, source in _sources(root, package):
        for node in ast.walk(ast.parse(source)):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                continue
            for decorator in node.decorator_list:
                if not isinstance(decorator, ast.Call):
                    continue
                for arg in [*decorator.args, *(k.value for k in decorator.keywords)]:
                    new = _changed_literal(arg) or ("None" if isinstance(arg, ast.Name) else None)
                    if new is not None:
                        label = f"{path.stem}.{node.name}: @{ast.unparse(decorator.func)}({ast.unparse(arg)} -> {new})"
                        mutation = _edit(label, root, path, source, arg, new)
                        if mutation:
                            found.append(mutation)
    return found


def find_mutations(root: Path, package: str, count: int, seed: int = 7, kinds: int = 4) -> list[Mutation]:
    """`return <expr>` -> `return None` in functions picked at random, one module-level edit, and
    up to `kinds` changed literal defaults and `kinds` changed decorator arguments."""
    candidates: list[Mutation] = []
    for path, source in _sources(root, package):
        lines = source.splitlines(keepends=True)
        tree = ast.parse(source)
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef) or any(
                isinstance(n, (ast.Yield, ast.YieldFrom)) for n in ast.walk(node)
            ):
                continue
            returns = [n for n in node.body if isinstance(n, ast.Return) and n.value is not None]
            if not returns or returns[0].end_lineno != returns[0].lineno:
                continue
            line = lines[returns[0].lineno - 1]
            indent = line[: len(line) - len(line.lstrip())]
            if line.strip() == "return None":
                continue
            candidates.append(
                Mutation(
                    f"{path.stem}.{node.name}: return None",
                    str(path.relative_to(root)),
                    line,
                    f"{indent}return None  # mutated\n",
                )
            )
    rng = random.Random(seed)
    picked = rng.sample(candidates, min(count, len(candidates)))
    module_level = root / package / "itertoolz.py"
    if module_level.is_file() and "rest = partial(drop, 1)\n" in module_level.read_text():
        picked.append(
            Mutation(
                "itertoolz: module-level rest = partial(drop, 2)",
                f"{package}/itertoolz.py",
                "rest = partial(drop, 1)\n",
                "rest = partial(drop, 2)\n",
            )
        )
    for found in (default_mutations(root, package), decorator_mutations(root, package)):
        picked.extend(rng.sample(found, min(kinds, len(found))))
    return picked


def apply(roots: list[Path], mutation: Mutation, revert: bool = False) -> None:
    for root in roots:
        path = root / mutation.path
        text = path.read_text()
        old, new = (mutation.new, mutation.old) if revert else (mutation.old, mutation.new)
        assert old in text, f"{mutation.name}: text not found in {path}"
        path.write_text(text.replace(old, new, 1))


# -- the tools ---------------------------------------------------------------------
def junit_ids(path: Path) -> tuple[set[str], set[str]]:
    """(every test case, failing ones) from a JUnit XML, as 'classname::name'."""
    if not path.is_file():
        return set(), set()
    cases, failed = set(), set()
    for case in ET.parse(path).getroot().iter("testcase"):
        key = f"{case.get('classname')}::{case.get('name')}"
        cases.add(key)
        if case.find("failure") is not None or case.find("error") is not None:
            failed.add(key)
    return cases, failed


def nodeid_key(nodeid: str) -> str:
    """A pytest node id in the junit 'classname::name' form."""
    parts = nodeid.split("::")
    module = parts[0].removesuffix(".py").replace("/", ".")
    return ".".join([module, *parts[1:-1]]) + "::" + parts[-1]


@dataclass
class Tool:
    name: str
    root: Path
    selected: list[int] = field(default_factory=list)
    missed: list[int] = field(default_factory=list)
    times: list[float] = field(default_factory=list)


def plain_pytest(venv: Path) -> list[str]:
    """pytest with no plugin of either tool, on the common test set."""
    python = str(venv / "bin" / "python")
    return [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:testmon", *COMMON_ARGS]


def plain_full(venv: Path, root: Path) -> tuple[Timed, set[str], set[str]]:
    xml = root / "full.xml"
    timed = run(
        [*plain_pytest(venv), f"--junitxml={xml}"],
        root,
    )
    cases, failed = junit_ids(xml)
    return timed, cases, failed


def helpy(root: Path, env: dict[str, str], *args: str) -> tuple[Timed, set[str]]:
    timed, report = helpy_report(root, env, *args)
    return timed, {nodeid_key(t["id"]) for t in report["tests"] if not t["cached"]}


def helpy_report(root: Path, env: dict[str, str], *args: str) -> tuple[Timed, dict]:
    """`help.py test --json ARGS` on the common test set: its timing and parsed report."""
    timed = run(
        [
            PYTHON,
            str(HELP),
            "test",
            "--json",
            *args,
            "--",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:testmon",
            *COMMON_ARGS,
        ],
        root,
        env,
    )
    try:
        report = json.loads(timed.out)
    except ValueError:
        raise SystemExit(f"help.py test gave no report:\n{timed.out[-2000:]}\n{timed.err[-3000:]}") from None
    return timed, report


def testmon(venv: Path, root: Path) -> tuple[Timed, set[str]]:
    xml = root / "testmon.xml"
    xml.unlink(missing_ok=True)
    timed = run(
        [
            str(venv / "bin" / "python"),
            "-m",
            "pytest",
            "--testmon",  # testmon needs pytest's cacheprovider, so it stays on here
            "-q",
            f"--junitxml={xml}",
            *COMMON_ARGS,
        ],
        root,
    )
    if "INTERNALERROR" in timed.out + timed.err:  # it stops there: its figures would cover part of the suite
        last = (timed.out + timed.err).strip().splitlines()[-1]
        print(f"  WARNING: pytest-testmon crashed ({last}); its figures cover only the tests before", flush=True)
    return timed, junit_ids(xml)[0]


def testmon_unreadable(root: Path) -> list[str]:
    """`--ignore` for each path pytest-testmon cannot fingerprint.

    testmon takes the part after the last "." of every file it tracks as its
    kind and raises IndexError (INTERNALERROR, ending the run) on a path with
    no "." at all, such as Pygments' example files `vimrc` or `inform6_example`.
    Leaving those out of every run keeps the comparison on one test set.
    """
    found = []
    for current, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d != "__pycache__"]
        for name in files:
            rel = os.path.relpath(os.path.join(current, name), root)
            if "." not in rel:  # LICENSE and the like too: ignoring what pytest never collects changes nothing
                found.append(f"--ignore={rel}")
    return sorted(found)


def recorder_overhead(venv: Path, root: Path, repeat: int = 3) -> tuple[float, float]:
    """(wall, cpu) ratio of one pytest process with the recorder on over the same run without it.

    This isolates the cost of recording from help.py's fixed costs (its own start,
    storing results), which dominate on a suite as quick as this one. The plain run
    loads no plugin at all: on 3.11 the recorder instruments modules as they are
    imported, a cost that only loading the plugin would hide.
    """
    from helper.testing.runner import prepare_plugin

    state = root / ".help"
    plugin_dir = prepare_plugin(state)
    ratios_wall, ratios_cpu = [], []
    control = state / "control.json"
    control.write_text(
        json.dumps(
            {
                "root": str(root),
                "exclude": [str(state)],
                "record_dir": str(state),
                "code_cache": str(plugin_dir / "code"),
            }
        )
    )
    plain = plain_pytest(venv)
    for _ in range(repeat):
        times = {
            True: run(
                [*plain, "-p", "helpy_recorder"],
                root,
                {"PYTHONPATH": str(plugin_dir), "HELPY_TEST_CONTROL": str(control)},
            ),
            False: run(plain, root),
        }
        ratios_wall.append(times[True].wall / times[False].wall)
        ratios_cpu.append(times[True].cpu / times[False].cpu)
    for leftover in state.glob("*.json"):
        leftover.unlink()
    return statistics.median(ratios_wall), statistics.median(ratios_cpu)


# -- recording cost per Python version -----------------------------------------------
@dataclass
class Project:
    spec: str
    test_deps: list[str]
    args: list[str]  # the tests run: a subset keeps each run short on a shared machine


PROJECTS = {
    "pygments": Project("pygments==2.18.0", ["wcag-contrast-ratio"], ["tests/snippets"]),
    "toolz": Project("toolz==1.2.0", [], []),
}


def interpreter(version: str) -> str:
    """The pyenv interpreter of `version` (e.g. 3.12), else `python<version>` on PATH."""
    try:
        prefix = subprocess.run(["pyenv", "prefix", version], capture_output=True, text=True, check=True).stdout
        return str(Path(prefix.strip()) / "bin" / "python")
    except (OSError, subprocess.CalledProcessError):
        found = shutil.which(f"python{version}")
        if not found:
            raise SystemExit(f"no Python {version}: install it (pyenv install {version})") from None
        return found


def overhead(work: Path, name: str, project: Project, version: str, repeat: int) -> dict[str, float]:
    """Ratios over plain pytest: help.py and testmon, cold and warm, wall and cpu; plus seconds."""
    source = (
        fetch(project.spec, work / name)
        if not (work / name / "src").is_dir()
        else next((work / name / "src").iterdir())
    )
    venv = make_venv(work / name, project.test_deps, interpreter(version), f"venv-{version}")
    hp, tm = copy(source, work / name / f"helpy-{version}"), copy(source, work / name / f"testmon-{version}")
    env = {"HELP_TEST__VENV": str(venv), "HELP_TEST__EXTRAS": ""}
    python = str(venv / "bin" / "python")
    plain_cmd = [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:testmon", *project.args]
    help_cmd = [
        PYTHON,
        str(HELP),
        "test",
        "--all",
        "--",
        "-q",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:testmon",
        *project.args,
    ]
    testmon_cmd = [python, "-m", "pytest", "-q", *project.args]
    # help.py's user-wide cache is the bench's own, emptied for each cold run like the project's state.
    user_cache = work / name / f"xdg-cache-{version}"
    env["XDG_CACHE_HOME"] = str(user_cache)
    keys = ("plain cold", "plain warm", "help cold", "help warm", "help new", "testmon cold", "testmon warm")
    times: dict[str, list[Timed]] = {k: [] for k in keys}
    run(plain_cmd, hp)  # warm-up: files in the page cache
    for _ in range(repeat):
        fresh_clone(hp)
        times["plain cold"].append(run(plain_cmd, hp))
        times["plain warm"].append(run(plain_cmd, hp))
        fresh_clone(hp, user_cache)
        times["help cold"].append(run(help_cmd, hp, env))
        times["help warm"].append(run(help_cmd, hp, env))
        run(plain_cmd, hp)  # __pycache__ as plain pytest leaves it
        shutil.rmtree(hp / ".help", ignore_errors=True)
        shutil.rmtree(user_cache, ignore_errors=True)
        times["help new"].append(run(help_cmd, hp, env))
        fresh_clone(tm)
        times["testmon cold"].append(run([*testmon_cmd, "--testmon"], tm))
        times["testmon warm"].append(run([*testmon_cmd, "--testmon-noselect"], tm))
    for key, timed in times.items():
        bad = [t for t in timed if t.code not in (0, 1)]
        if bad:
            raise SystemExit(
                f"{name} {version} {key} exited {bad[0].code}:\n{bad[0].out[-1500:]}\n{bad[0].err[-1500:]}"
            )
    wall = {k: min(t.wall for t in v) for k, v in times.items()}
    cpu = {k: min(t.cpu for t in v) for k, v in times.items()}
    result = {f"plain {k} {m}": d[f"plain {k}"] for k in ("cold", "warm") for m, d in (("wall", wall), ("cpu", cpu))}
    for key in ("help cold", "help warm", "help new", "testmon cold", "testmon warm"):
        base = "plain cold" if key.endswith("cold") else "plain warm"
        result[f"{key} wall"] = wall[key] / wall[base]
        result[f"{key} cpu"] = cpu[key] / cpu[base]
    return result


def fresh_clone(root: Path, *caches: Path) -> None:
    """`root` as a new clone has it: no bytecode, no state of help.py, pytest or testmon; `caches` emptied too."""
    for current, dirs, _files in os.walk(root):
        if "__pycache__" in dirs:
            shutil.rmtree(os.path.join(current, "__pycache__"), ignore_errors=True)
        dirs[:] = [d for d in dirs if d not in ("__pycache__", ".git")]
    shutil.rmtree(root / ".help", ignore_errors=True)
    shutil.rmtree(root / ".pytest_cache", ignore_errors=True)
    for leftover in root.glob(".testmondata*"):
        leftover.unlink()
    for cache in caches:
        shutil.rmtree(cache, ignore_errors=True)


def overhead_main(opts: argparse.Namespace) -> int:
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    work = Path(tempfile.mkdtemp(prefix="bench-overhead-"))
    try:
        rows = []
        for name in opts.projects.split(","):
            for version in opts.pythons.split(","):
                figures = overhead(work, name, PROJECTS[name], version, opts.repeat)
                rows.append((name, version, figures))
                print(
                    f"  {name} {version}: plain cold {figures['plain cold cpu']:.2f}s warm {figures['plain warm cpu']:.2f}s cpu; "
                    f"help.py cold {figures['help cold cpu']:.2f}x warm {figures['help warm cpu']:.2f}x; "
                    f"testmon cold {figures['testmon cold cpu']:.2f}x warm {figures['testmon warm cpu']:.2f}x",
                    flush=True,
                )
        print()
        print("recording cost: `help.py test --all` and `pytest --testmon` over plain `pytest`, cpu (wall)")
        print("cold: fresh clone, over plain pytest's fresh-clone run; warm: over plain pytest's second run")
        columns = ("help cold", "help warm", "testmon cold", "testmon warm", "help new")
        titles = ("help.py cold", "help.py warm", "testmon cold", "testmon warm", "help.py new .help")
        print(f"{'project':<10} {'python':<6} {'plain cpu s':>12} " + " ".join(f"{t:>17}" for t in titles) + "  target")
        for name, version, f in rows:
            cells = [f"{f[k + ' cpu']:.2f}x ({f[k + ' wall']:.2f})" for k in columns]
            target = "1.5x" if version == "3.11" else "1.2x"
            plain = f"{f['plain cold cpu']:.2f}/{f['plain warm cpu']:.2f}"
            print(f"{name:<10} {version:<6} {plain:>12} " + " ".join(f"{c:>17}" for c in cells) + f"  <= {target}")
        print(
            "help.py new .help: `__pycache__` as plain pytest left it, `.help/` and the user cache empty; over plain warm"
        )
        load = os.getloadavg()
        print(f"load average during the run: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cpus")
        return 0
    finally:
        if opts.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def help_only_main(opts: argparse.Namespace) -> int:
    """help.py's selection alone after each mutation: no pytest-testmon, no plain full run per mutation.

    For a loaded machine or a quick check after a change to the selection. The
    failing set is then unknown: printed is how many of the selected tests fail,
    to be compared with the "failing" column of a whole run of this benchmark
    (the same mutations, the same sdist), where equal counts mean none missed.
    """
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    work = Path(tempfile.mkdtemp(prefix="bench-select-"))
    try:
        print(f"work dir {work}; fetching {opts.package} (help.py only)", flush=True)
        source = fetch(opts.package, work)
        venv = make_venv(work, [d for d in opts.test_deps.split(",") if d])
        hp = copy(source, work / "helpy")
        env = {"HELP_TEST__VENV": str(venv), "HELP_TEST__EXTRAS": ""}
        from helper.fingerprint import sha256_file

        state = hp / ".help"
        state.mkdir()
        (state / "test-env.json").write_text(
            json.dumps({"pyproject": sha256_file(hp / "pyproject.toml"), "extras": [], "base_python": PYTHON})
        )
        COMMON_ARGS.extend(testmon_unreadable(hp))
        full, report = helpy_report(hp, env, "--all")
        n = len(report["tests"]) or 1
        print(f"{opts.package}: {n} tests; help.py test --all {full.wall:.2f}s wall / {full.cpu:.2f}s cpu", flush=True)
        helpy(hp, env)  # settle: every result cached
        mutations = find_mutations(source, opts.module, opts.mutations, kinds=opts.arg_mutations)
        if opts.kinds == "args":
            mutations = [m for m in mutations if ": default " in m.name or ": @" in m.name]
        rows = []
        for mutation in mutations:
            apply([hp], mutation)
            timed, report = helpy_report(hp, env)
            selected = [t for t in report["tests"] if not t["cached"]]
            failed = sum(1 for t in selected if t["outcome"] in ("failed", "error"))
            rows.append((mutation.name, len(selected), failed, timed.wall))
            print(f"  {mutation.name}: help.py ran {len(selected)} ({timed.wall:.2f}s), {failed} failing", flush=True)
            apply([hp], mutation, revert=True)
            helpy(hp, env)
        print()
        print(f"{'mutation':<52} {'help.py sel':>11} {'failing':>7}")
        for name, sel, failed, _ in rows:
            print(f"{name[:52]:<52} {sel:>11} {failed:>7}")
        mean = statistics.mean(r[1] for r in rows) / n if rows else 0.0
        rerun = statistics.mean(r[3] for r in rows) if rows else 0.0
        print(
            f"selected fraction (mean): {mean:.1%}; selective run {rerun:.2f}s, {rerun / full.wall:.1%} of a recorded full run"
        )
        return 0
    finally:
        if opts.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--package", default="pygments==2.18.0")
    parser.add_argument("--module", default="pygments", help="the package directory inside the sdist")
    parser.add_argument(
        "--test-deps",
        default="wcag-contrast-ratio",
        help="comma-separated packages the project's tests need besides pytest",
    )
    parser.add_argument("--mutations", type=int, default=8, help="random `return None` mutations")
    parser.add_argument(
        "--arg-mutations", type=int, default=4, help="changed literal defaults, and as many decorator arguments"
    )
    parser.add_argument("--repeat", type=int, help="runs of each timing (default 5; 1 with --overhead)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("--overhead", action="store_true", help="only the recording cost, per Python version")
    parser.add_argument("--pythons", default="3.11,3.12,3.13", help="with --overhead: the versions measured")
    parser.add_argument("--projects", default="pygments,toolz", help=f"with --overhead: among {', '.join(PROJECTS)}")
    parser.add_argument(
        "--kinds", choices=("all", "args"), default="all", help="with --help-only: args = defaults and decorators only"
    )
    parser.add_argument("--help-only", action="store_true", help="help.py's selection only (see help_only_main)")
    opts = parser.parse_args()
    if opts.help_only:
        return help_only_main(opts)
    if opts.overhead:
        opts.repeat = opts.repeat or 1
        return overhead_main(opts)
    opts.repeat = opts.repeat or 5

    # Bytecode caching on, as on a developer machine: otherwise every tool recompiles itself on each start.
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    work = Path(tempfile.mkdtemp(prefix="bench-select-"))
    try:
        print(f"work dir {work}; fetching {opts.package}", flush=True)
        source = fetch(opts.package, work)
        venv = make_venv(work, [d for d in opts.test_deps.split(",") if d])
        hp, tm, full = copy(source, work / "helpy"), copy(source, work / "testmon"), copy(source, work / "full")
        env = {"HELP_TEST__VENV": str(venv), "HELP_TEST__EXTRAS": ""}
        # The venv already has what the tests need; mark it ready so help.py adds no editable install.
        from helper.fingerprint import sha256_file

        state = hp / ".help"
        state.mkdir()
        (state / "test-env.json").write_text(
            json.dumps({"pyproject": sha256_file(hp / "pyproject.toml"), "extras": [], "base_python": PYTHON})
        )

        COMMON_ARGS.extend(testmon_unreadable(full))
        if COMMON_ARGS:
            print(f"left out of every run: {len(COMMON_ARGS)} paths with no '.' (testmon cannot run them)")
        plain = [plain_full(venv, full) for _ in range(2)]
        full_wall = min(p[0].wall for p in plain)
        full_cpu = min(p[0].cpu for p in plain)
        all_tests = plain[0][1]
        print(
            f"{opts.package}: {len(all_tests)} tests, plain full run {full_wall:.2f}s wall / {full_cpu:.2f}s cpu",
            flush=True,
        )

        first_hp, _ = helpy(hp, env, "--all")
        first_tm, _ = testmon(venv, tm)
        rec_hp = [first_hp, helpy(hp, env, "--all")[0]]
        rec_tm = [first_tm]
        for _ in range(1):
            (tm / ".testmondata").unlink(missing_ok=True)
            rec_tm.append(testmon(venv, tm)[0])
        helpy(hp, env)  # settle: every result cached
        isolated = recorder_overhead(venv, full, repeat=3 if full_wall < 10 else 1)

        tools = [Tool("help.py", hp), Tool("testmon", tm)]
        mutations = find_mutations(source, opts.module, opts.mutations, kinds=opts.arg_mutations)
        rows = []
        for mutation in mutations:
            apply([hp, tm, full], mutation)
            _, _, failing = plain_full(venv, full)
            t_hp, sel_hp = helpy(hp, env)
            t_tm, sel_tm = testmon(venv, tm)
            for tool, timed, selected in ((tools[0], t_hp, sel_hp), (tools[1], t_tm, sel_tm)):
                tool.selected.append(len(selected))
                tool.missed.append(len(failing - selected))
                tool.times.append(timed.wall)
            rows.append(
                (mutation.name, len(failing), len(sel_hp), len(failing - sel_hp), len(sel_tm), len(failing - sel_tm))
            )
            print(
                f"  {mutation.name}: {len(failing)} failing; help.py ran {len(sel_hp)} ({t_hp.wall:.2f}s), testmon ran {len(sel_tm)} ({t_tm.wall:.2f}s)",
                flush=True,
            )
            apply([hp, tm, full], mutation, revert=True)
            helpy(hp, env)
            testmon(venv, tm)

        nochange_hp = [helpy(hp, env)[0].wall for _ in range(opts.repeat)]
        nochange_tm = [testmon(venv, tm)[0].wall for _ in range(opts.repeat)]

        print()
        print(f"{'mutation':<52} {'failing':>7} {'help.py sel':>11} {'missed':>6} {'testmon sel':>11} {'missed':>6}")
        for name, failing_n, shp, mhp, stm, mtm in rows:
            print(f"{name[:52]:<52} {failing_n:>7} {shp:>11} {mhp:>6} {stm:>11} {mtm:>6}")
        n = len(all_tests) or 1
        frac_hp = statistics.mean(tools[0].selected) / n
        frac_tm = statistics.mean(tools[1].selected) / n
        overhead_hp = min(t.wall for t in rec_hp) / full_wall
        overhead_tm = min(t.wall for t in rec_tm) / full_wall
        cpu_hp = min(t.cpu for t in rec_hp) / full_cpu
        cpu_tm = min(t.cpu for t in rec_tm) / full_cpu
        rerun_hp = statistics.mean(tools[0].times)
        rerun_tm = statistics.mean(tools[1].times)
        nc_hp, nc_tm = statistics.median(nochange_hp), statistics.median(nochange_tm)
        print()
        print(f"{'metric':<44} {'help.py':>12} {'testmon':>12}  target")
        print(f"{'missed failures (all mutations)':<44} {sum(tools[0].missed):>12} {sum(tools[1].missed):>12}  0")
        print(f"{'selected fraction (mean)':<44} {frac_hp:>12.1%} {frac_tm:>12.1%}  help.py <= testmon")
        complete = [i for i, missed in enumerate(tools[1].missed) if missed == 0]
        if complete and len(complete) < len(rows):
            # Selecting fewer by missing failing tests is no gain: compare where testmon ran every failing test.
            fair_hp = statistics.mean(tools[0].selected[i] for i in complete) / n
            fair_tm = statistics.mean(tools[1].selected[i] for i in complete) / n
            label = f"  where testmon missed none ({len(complete)} of {len(rows)})"
            print(f"{label:<44} {fair_hp:>12.1%} {fair_tm:>12.1%}  help.py <= testmon")
        print(f"{'recording overhead, wall (full / plain)':<44} {overhead_hp:>11.2f}x {overhead_tm:>11.2f}x  <= 1.5x")
        print(f"{'recording overhead, cpu (full / plain)':<44} {cpu_hp:>11.2f}x {cpu_tm:>11.2f}x  <= 1.5x")
        print(
            f"{'  recorder alone in pytest, wall / cpu':<44} {isolated[0]:>11.2f}x {isolated[1]:>11.2f}x  (help.py; same run, recorder on / off)"
        )
        print(f"{'selective run after a mutation (mean)':<44} {rerun_hp:>11.2f}s {rerun_tm:>11.2f}s")
        print(
            f"{'  as a share of a plain full run':<44} {rerun_hp / full_wall:>12.1%} {rerun_tm / full_wall:>12.1%}  <= 25%"
        )
        label = f"no-change rerun (median of {opts.repeat})"
        print(f"{label:<44} {nc_hp:>11.3f}s {nc_tm:>11.3f}s  < 0.15 s")
        print(f"{'  testmon / help.py':<44} {nc_tm / nc_hp:>11.1f}x {'':>12}  >= 2.5x")
        print(
            f"plain full run: {full_wall:.2f}s wall, {full_cpu:.2f}s cpu; python -c pass: {run([PYTHON, '-c', 'pass'], work).wall:.3f}s"
        )
        return 0
    finally:
        if opts.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.path.insert(0, str(HELP.parent))
    raise SystemExit(main())
