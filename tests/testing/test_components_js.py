"""Components with their own runner: real node (node --test, npm test) in real git repos, cached and reported per test."""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from helper import replay
from tests.conftest import age, git, need_tool, run_help, write
from tests.testing.conftest import Sample, cached, failing, ran

CONFIG = '[project]\nname = "demo"\nversion = "0"\n\n[tool.help.test.components.js-client]\npath = "client"\nrunner = "node --test"\n'
LIB = "exports.add = (a, b) => a + b;\nexports.twice = (a) => a * 2;\n"
TESTS = """const test = require('node:test');
const assert = require('node:assert');
const { add, twice } = require('../lib.js');
test('adds', () => { assert.strictEqual(add(1, 2), 3); });
test.describe('twice', () => {
  test.it('doubles', () => { assert.strictEqual(twice(2), 4); });
});
"""
FAILING = """const test = require('node:test');
const assert = require('node:assert');
test('fine', () => { assert.ok(true); });
test('broken', () => { assert.strictEqual(1 + 1, 3); });
"""
PASSED = {"js-client::adds", "js-client::twice::doubles"}


class JsProject:
    """A git repository with a JS client component, run through help.py with `node` behind a recording shim."""

    def __init__(self, root: Path, files: dict[str, str]) -> None:
        self.root = root
        self.log = root.parent / "node-calls.log"
        self.bin = root.parent / "bin"
        self.bin.mkdir()
        shim = self.bin / "node"
        real = need_tool("node")
        shim.write_text(f'#!/bin/sh\necho "$*" >> "{self.log}"\nexec "{real}" "$@"\n')
        shim.chmod(0o755)
        files = {"pyproject.toml": CONFIG, ".gitignore": ".help/\nnode_modules/\n", **files}
        for rel, text in files.items():
            write(root / rel, text)
        git(root, "init", "-q", "-b", "main")
        git(root, "add", "-A")
        git(root, "commit", "-qm", "initial")

    def path(self) -> str:
        return os.pathsep.join([str(self.bin), os.environ.get("PATH", "")])

    def calls(self) -> list[str]:
        return self.log.read_text().splitlines() if self.log.exists() else []

    def test(self, *args: str, path: str | None = None) -> dict[str, Any]:
        result = run_help("test", "--json", *args, cwd=self.root, env={"PATH": path or self.path()})
        try:
            data: dict[str, Any] = json.loads(result.stdout)
        except ValueError:
            raise AssertionError(f"no JSON (exit {result.returncode}):\n{result.stdout}\n{result.stderr}") from None
        data["returncode"] = result.returncode
        data["stderr"] = result.stderr
        return data


@pytest.fixture
def js(tmp_path: Path) -> Callable[[dict[str, str]], JsProject]:
    return lambda files: JsProject(tmp_path / "project", files)


def test_passing_component_is_cached_without_starting_node(js: Callable[[dict[str, str]], JsProject]) -> None:
    project = js({"client/lib.js": LIB, "client/test/lib.test.js": TESTS})
    first = project.test("--component", "js-client")
    assert first["returncode"] == 0, first["stderr"]
    assert ran(first) == PASSED and first["outcomes"] == {"passed": 2}
    assert not first["pytest_started"]
    [info] = first["components"]
    assert (info["name"], info["cached"], info["tests"], info["failed"]) == ("js-client", False, 2, 0)
    assert info["runner"] == "node --test" and info["runner_version"]["node"].startswith("v")
    assert info["reason"] == "new component"
    started = project.calls()
    assert any("--test" in call for call in started) and "--version" in started

    second = project.test("--component", "js-client")
    assert second["returncode"] == 0 and cached(second) == PASSED and not ran(second)
    assert second["components"][0]["cached"] is True
    assert project.calls() == started  # answered from the cache: node was not started, not even for --version

    project.test("--component", "js-client", "--all")  # --all reruns it
    assert len(project.calls()) == len(started) + 1


def test_an_edit_to_its_source_reruns_it(js: Callable[[dict[str, str]], JsProject]) -> None:
    project = js({"client/lib.js": LIB, "client/test/lib.test.js": TESTS})
    assert ran(project.test("--component", "js-client")) == PASSED
    (project.root / "client/lib.js").write_text(LIB.replace("a * 2", "2 * a"))
    again = project.test("--component", "js-client")
    assert ran(again) == PASSED and again["components"][0]["reason"] == "changed: client/lib.js"
    assert cached(project.test("--component", "js-client")) == PASSED

    write(project.root / "client/package-lock.json", '{"lockfileVersion": 3}\n')  # a lockfile counts too
    assert ran(project.test("--component", "js-client")) == PASSED
    write(project.root / "client/node_modules/dep/index.js", "module.exports = 1;\n")  # node_modules does not
    assert cached(project.test("--component", "js-client")) == PASSED


def test_failing_test_shown_per_test_in_junit(js: Callable[[dict[str, str]], JsProject], tmp_path: Path) -> None:
    project = js({"client/test/calc.test.js": FAILING})
    report = tmp_path / "report.xml"
    result = project.test("--component", "js-client", "--junit", str(report))
    assert result["returncode"] == 1
    assert failing(result) == {"js-client::broken"} and ran(result) == {"js-client::fine", "js-client::broken"}
    [broken] = [t for t in result["tests"] if t["id"] == "js-client::broken"]
    assert "3" in broken["message"] and "strictEqual" in broken["longrepr"]
    cases = {c.get("name"): c for c in ET.parse(report).getroot().iter("testcase")}
    assert set(cases) == {"fine", "broken"}
    assert cases["broken"].get("classname") == "js-client"
    assert cases["broken"].find("failure") is not None and cases["fine"].find("failure") is None
    suite = ET.parse(report).getroot().find("testsuite")
    assert suite is not None and suite.get("failures") == "1"

    human = run_help("test", "--component", "js-client", cwd=project.root, env={"PATH": project.path()})
    assert human.returncode == 1
    assert "FAILED js-client::broken" in human.stdout and "1 failed" in human.stdout
    assert len([c for c in project.calls() if "--test" in c]) == 2  # a failure is never answered from the cache


def test_missing_node_names_what_to_install(js: Callable[[dict[str, str]], JsProject], tmp_path: Path) -> None:
    project = js({"client/test/lib.test.js": TESTS, "client/lib.js": LIB})
    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "git").symlink_to(need_tool("git"))
    result = run_help("test", "--component", "js-client", cwd=project.root, env={"PATH": str(bare)})
    assert result.returncode == 1
    assert "pyproject.toml:5: test.components.js-client: `node` is not on PATH" in result.stderr
    assert "install Node.js" in result.stderr and "apt-get install nodejs" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_component_config_points_at_its_line(js: Callable[[dict[str, str]], JsProject]) -> None:
    project = js({"client/lib.js": LIB})
    (project.root / "pyproject.toml").write_text(CONFIG + 'timeout = "soon"\n')
    result = run_help("test", "--component", "js-client", cwd=project.root)
    assert result.returncode == 2
    assert "pyproject.toml:8: tool.help.test.components.js-client.timeout: expected a number" in result.stderr
    (project.root / "pyproject.toml").write_text(CONFIG.replace('runner = "node --test"\n', ""))
    result = run_help("test", cwd=project.root)
    assert result.returncode == 2 and "js-client: runner is missing" in result.stderr


def test_a_runner_past_its_timeout_is_stopped_and_failed(js: Callable[[dict[str, str]], JsProject]) -> None:
    config = CONFIG.replace('"node --test"', "\"node -e 'setTimeout(() => {}, 60000)'\"\ntimeout = 1")
    project = js({"pyproject.toml": config, "client/lib.js": LIB})
    result = project.test("--component", "js-client")
    assert result["returncode"] == 1 and failing(result) == {"js-client"}
    assert "timed out after 1s (test.components.js-client.timeout)" in result["tests"][0]["message"]
    assert result["seconds"] < 30


def test_npm_test_per_test_from_tap_or_one_result(js: Callable[[dict[str, str]], JsProject]) -> None:
    need_tool("npm")
    package = '{"name": "client", "version": "1.0.0", "scripts": {"test": "node --test"}}\n'
    config = CONFIG.replace("node --test", "npm test")
    project = js(
        {
            "pyproject.toml": config,
            "client/package.json": package,
            "client/test/calc.test.js": FAILING,
            "client/lib.js": LIB,
            "client/test/lib.test.js": TESTS,
        }
    )
    result = project.test("--component", "js-client")
    assert result["returncode"] == 1, result["stderr"]
    assert failing(result) == {"js-client::broken"}  # read from the TAP npm's script printed, suites included
    assert ran(result) == {"js-client::fine", "js-client::broken", *PASSED}
    assert set(result["components"][0]["runner_version"]) == {"npm", "node"}

    (project.root / "client/package.json").write_text(package.replace("node --test", "node check.js"))
    write(project.root / "client/check.js", "console.log('checked');\n")
    whole = project.test("--component", "js-client")  # no per-test output: one result for the component
    assert whole["returncode"] == 0 and ran(whole) == {"js-client"}
    assert cached(project.test("--component", "js-client")) == {"js-client"}

    bare = project.root.parent / "bare"
    bare.mkdir()
    (bare / "git").symlink_to(need_tool("git"))
    missing = run_help("test", "--component", "js-client", "--all", cwd=project.root, env={"PATH": str(bare)})
    assert missing.returncode == 1 and "`npm` is not on PATH" in missing.stderr
    assert "apt-get install npm" in missing.stderr


def test_whole_run_has_python_and_component_results(sample: Callable[[dict[str, str]], Sample], tmp_path: Path) -> None:
    real = need_tool("node")
    shim_dir = tmp_path / "bin"
    shim_dir.mkdir()
    log = tmp_path / "calls.log"
    (shim_dir / "node").write_text(f'#!/bin/sh\necho "$*" >> "{log}"\nexec "{real}" "$@"\n')
    (shim_dir / "node").chmod(0o755)
    env = {"PATH": os.pathsep.join([str(shim_dir), os.environ.get("PATH", "")])}
    project = sample(
        {
            "pyproject.toml": CONFIG,
            "calc.py": "def add(a, b):\n    return a + b\n",
            "tests/test_calc.py": "from calc import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n",
            "client/lib.js": LIB,
            "client/test/lib.test.js": TESTS,
        }
    )
    report = tmp_path / "all.xml"
    first = project.test("--junit", str(report), env=env)
    assert first["returncode"] == 0, first["stderr"]
    assert ran(first) == {"tests/test_calc.py::test_add", *PASSED}
    assert [c["name"] for c in first["components"]] == ["js-client"]
    names = {c.get("name") for c in ET.parse(report).getroot().iter("testcase")}
    assert names == {"test_add", "adds", "doubles"}

    age(project.root)
    age(project.venv)
    calls = log.read_text()
    for _ in range(2):  # all from the cache, then replayed: node is not started
        again = project.test(env=env)
        assert again["returncode"] == 0 and not ran(again)
        assert cached(again) == {"tests/test_calc.py::test_add", *PASSED}
        assert (project.root / ".help/replay" / replay.record_name(["test", "--json"])).is_file()
    assert log.read_text() == calls

    project.replace("client/lib.js", "a * 2", "a + a")  # the replayed answer must notice the edit
    edited = project.test(env=env)
    assert ran(edited) == PASSED and cached(edited) == {"tests/test_calc.py::test_add"}

    project.write("client/test/more.test.js", FAILING)  # a component's failure fails the whole run
    failed = project.test(env=env)
    assert failed["returncode"] == 1 and failing(failed) == {"js-client::broken"}
    assert "tests/test_calc.py::test_add" in cached(failed)

    assert "components" not in project.test("--shard", "2/2", env=env)  # components run on shard 1 only
    only_python = project.test("tests/test_calc.py", env=env)  # narrowed to Python tests: no component
    assert "components" not in only_python and only_python["returncode"] == 0
