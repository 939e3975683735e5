"""The fast start path (helper.fast): a plugin's hand-written entry runs before argparse loads, gives what the
full CLI gives, honours the configuration, and hands everything it does not understand to the full CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from helper import fast
from tests.conftest import HELP, age, clean_env, write

PLUGIN = """
from helper.config_schema import Setting
from helper.plugins import Plugin

PLUGIN = Plugin(
    name="demo",
    description="a plugin with a fast start path",
    commands={"demo": ("plugins.demo.command", "greet")},
    settings={"greeting": Setting("str", "hello", "what to say")},
    fast={"greet": "plugins.demo.fast:greet"},
)
"""
COMMAND = """
import argparse
import sys

from helper.errors import UsageError

LONG_RUNNING = True


def add_parser(sub):
    parser = sub.add_parser("demo")
    parser.add_argument("action", choices=("greet", "wave"))
    parser.add_argument("--name", default="world")
    parser.add_argument("--fail", action="store_true")
    return parser


def run(args, project):
    from plugins.demo import body

    return body.greet(args.name, args.fail, project.config.get("demo.greeting"), project.profile)
"""
FAST = """
LONG_RUNNING = True


def greet(start):
    rest = start.rest
    name, fail = "world", False
    if rest[:1] != ["greet"]:
        return None
    words = rest[1:]
    while words:
        word = words.pop(0)
        if word == "--name" and words and not words[0].startswith("-"):
            name = words.pop(0)
        elif word == "--fail":
            fail = True
        else:
            return None
    from plugins.demo import body

    start.begin()
    return body.greet(name, fail, start.get("demo.greeting"), start.get("profile"))
"""
BODY = """
import sys

from helper.errors import UsageError
from helper.ui import console


def greet(name, fail, greeting, profile):
    if fail:
        raise UsageError(f"cannot greet {name}", "drop --fail")
    console.result({"greeting": f"{greeting} {name}", "profile": profile, "modules": None},
                   lambda d: console.echo(f"{d['greeting']} ({d['profile']})"))
    return 3 if name == "three" else 0
"""


@pytest.fixture
def demo(tmp_path: Path) -> dict[str, str]:
    """A plugin folder on HELP_PLUGIN_PATH and a private cache: the environment to run help.py in."""
    folder = tmp_path / "plugins" / "demo"
    for name, text in (("__init__.py", PLUGIN), ("command.py", COMMAND), ("fast.py", FAST), ("body.py", BODY)):
        write(folder / name, text)
    age(tmp_path / "plugins")
    return {"HELP_PLUGIN_PATH": str(tmp_path / "plugins"), "XDG_CACHE_HOME": str(tmp_path / "cache")}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    write(root / "pyproject.toml", '[project]\nname = "p"\nversion = "0"\n\n[tool.help.demo]\ngreeting = "hi"\n')
    write(root / "config" / "help.toml", 'profile = "staging"\n')
    write(root / "config" / "help.ci.toml", '[demo]\ngreeting = "ahoy"\n')
    age(root)
    return root


def run(argv: list[str], cwd: Path, env: dict[str, str], slow: bool = False) -> subprocess.CompletedProcess[str]:
    extra = {**env, **({"HELP_NO_FAST": "1"} if slow else {})}
    return subprocess.run(
        [sys.executable, "-S", "-X", "importtime", str(HELP), *argv],  # -S: no .pth file imports anything first
        cwd=cwd,
        env=clean_env(extra),
        capture_output=True,
        text=True,
        timeout=120,
    )


def imported(result: subprocess.CompletedProcess[str]) -> set[str]:
    return {line.split("|")[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")}


def output(result: subprocess.CompletedProcess[str]) -> tuple[int, str, str]:
    err = "\n".join(line for line in result.stderr.splitlines() if not line.startswith("import time:"))
    return result.returncode, result.stdout, err


def warm(cwd: Path, env: dict[str, str]) -> None:
    """One full run writes the fast index and the configuration cache (as any first run does)."""
    run(["demo", "greet"], cwd, env, slow=True)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["sandbox", "run", "--", "true"], ("sandbox", ["run", "--", "true"], {})),
        (["--json", "-C", "x", "sandbox", "run"], ("sandbox", ["run"], {"json": True, "project": "x"})),
        (["-Cx", "--profile=ci", "c", "-v", "a"], ("c", ["a"], {"project": "x", "profile": "ci", "verbose": 1})),
        (["c", "ps", "--json", "--", "--json"], ("c", ["ps", "--", "--json"], {"json": True})),
        (["--project=y", "-q", "--no-color", "c"], ("c", [], {"project": "y", "quiet": True, "no_color": True})),
    ],
)
def test_split_takes_the_global_options_out(
    argv: list[str], expected: tuple[str, list[str], dict[str, object]]
) -> None:
    parsed = fast.split(argv)
    assert parsed is not None
    command, rest, options = parsed
    assert (command, rest) == expected[:2]
    assert {k: v for k, v in options.items() if v not in (None, False, 0)} == expected[2]


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["c", "-h"],
        ["--debug", "c"],
        ["-C", "--json", "c"],
        ["--verb", "c"],
        ["--", "c"],
        ["-C"],
        [],
        ["--version"],
    ],
)
def test_split_hands_over_what_it_does_not_understand(argv: list[str]) -> None:
    assert fast.split(argv) is None


def test_same_answers_on_both_paths_and_the_fast_one_loads_no_argparse(
    demo: dict[str, str], project: Path, tmp_path: Path
) -> None:
    warm(project, demo)
    cases = [
        ["demo", "greet"],
        ["--json", "demo", "greet", "--name", "ann"],
        ["demo", "greet", "--json", "--name", "three"],  # exit code 3, global option after the command
        ["--profile", "ci", "demo", "greet"],  # config/help.ci.toml
        ["demo", "greet", "--fail"],  # an error, reported as the CLI reports it
        ["--json", "demo", "greet", "--fail"],
        ["-C", str(project), "demo", "greet"],
    ]
    for argv in cases:
        run(argv, project, demo, slow=True)  # the configuration cache for this profile
        quick, full = run(argv, project, demo), run(argv, project, demo, slow=True)
        assert output(quick) == output(full), argv
        assert "argparse" not in imported(quick), argv
        assert "argparse" in imported(full), argv
    # -C from outside the project, and the settings' layers really reached the entry
    outside = ["--json", "-C", str(project), "--profile", "ci", "demo", "greet"]
    run(outside, tmp_path, demo, slow=True)  # the cache keeps one profile's configuration at a time
    quick = run(outside, tmp_path, demo)
    assert json.loads(quick.stdout)["greeting"] == "ahoy world"
    assert json.loads(quick.stdout)["profile"] == "ci"
    assert "argparse" not in imported(quick)
    run(["demo", "greet"], project, demo, slow=True)
    assert json.loads(run(["--json", "demo", "greet"], project, demo).stdout)["profile"] == "staging"


def test_what_the_entry_does_not_take_goes_to_the_full_cli(demo: dict[str, str], project: Path) -> None:
    warm(project, demo)
    for argv in (
        ["demo", "wave"],  # an action without a fast entry
        ["demo", "greet", "--nam", "x"],  # an abbreviation argparse expands
        ["demo", "greet", "--bogus"],  # argparse's own error
        ["demo", "greet", "--help"],
        ["demo", "nosuch"],
    ):
        quick, full = run(argv, project, demo), run(argv, project, demo, slow=True)
        assert output(quick) == output(full), argv
        assert "argparse" in imported(quick), argv


def test_a_changed_configuration_or_plugin_is_never_read_stale(demo: dict[str, str], project: Path) -> None:
    warm(project, demo)
    assert json.loads(run(["--json", "demo", "greet"], project, demo).stdout)["greeting"] == "hi world"
    write(project / "pyproject.toml", '[project]\nname = "p"\nversion = "0"\n\n[tool.help.demo]\ngreeting = "yo"\n')
    changed = run(["--json", "demo", "greet"], project, demo)
    assert json.loads(changed.stdout)["greeting"] == "yo world"
    assert "argparse" in imported(changed)  # a fresh file: the full CLI read it
    # the plugin disabled: the full CLI says so, in its words
    write(project / "config" / "help.toml", 'profile = "staging"\n[plugins]\ndisabled = ["demo"]\n')
    age(project)
    quick, full = run(["demo", "greet"], project, demo), run(["demo", "greet"], project, demo, slow=True)
    assert quick.returncode == full.returncode != 0
    assert output(quick) == output(full)
    # a plugin's __init__ changed: the index is stale until a full run rewrites it
    init = Path(demo["HELP_PLUGIN_PATH"]) / "demo" / "__init__.py"
    init.write_text(init.read_text().replace('fast={"greet": "plugins.demo.fast:greet"}', "fast={}"))
    age(init.parent)
    (project / "config" / "help.toml").write_text('profile = "staging"\n')
    age(project)
    after = run(["demo", "greet"], project, demo)
    assert after.returncode == 0
    assert "argparse" in imported(after)


def test_the_run_is_journaled_the_same_way(demo: dict[str, str], project: Path) -> None:
    warm(project, demo)
    from helper import runlog

    pending = project / ".help" / runlog.PENDING_DIR
    for slow in (False, True):
        for name in os.listdir(pending) if pending.is_dir() else []:
            (pending / name).unlink()
        result = run(["demo", "greet", "--name", "three"], project, demo, slow=slow)
        assert result.returncode == 3
        records = [runlog.read(str(pending / n)) for n in os.listdir(pending) if n.endswith(runlog.END)]
        assert len(records) == 1, slow
        record = records[0]
        assert record is not None
        assert (record["command"], record["argv"], record["exit_code"]) == (
            "demo",
            ["demo", "greet", "--name", "three"],
            3,
        )
        assert record["error"] is None and record["duration"] > 0
