"""The integrator adds dependencies with `help.py install` (a real local index) and places files by convention."""

from __future__ import annotations

from pathlib import Path

from tests.agent.conftest import VENV, git, make_engine, tree_hash
from tests.agent.fakeserver import Turn
from tests.conftest import need_tool, write
from tests.install.conftest import index, isolate, tool_caches, venv_versions

__all__ = ["index", "tool_caches"]  # the local index's fixtures, shared with tests/install

PLAN = {"subtasks": [{"title": "discount", "description": "a discount rate", "files": ["src/shop/discount.py"]}]}
TEST = "from shop.discount import RATE\n\n\ndef test_rate():\n    assert RATE == 0.1\n"


def shop(root: Path, server_url: str) -> Path:
    need_tool("git")
    need_tool("bwrap", "the agent runs model-written code only in the sandbox")
    write(root / "requirements.txt", "# runtime dependencies\n")
    write(
        root / "pyproject.toml",
        f"""
        [tool.pytest.ini_options]
        pythonpath = ["src"]

        [tool.help.test]
        venv = "{VENV}"

        [tool.help.agent]
        server = "{server_url}"
        client = "stdlib"
        """,
    )
    write(root / "src" / "shop" / "__init__.py", "")
    write(root / "tests" / "test_shop.py", "import shop\n\n\ndef test_imports():\n    assert shop\n")
    write(root / ".gitignore", "__pycache__/\n.venv/\n")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "a shop")
    return root


def test_dependencies_go_through_help_py_install_and_files_land_by_convention(
    tmp_path, server, index, tool_caches, monkeypatch
):
    isolate(monkeypatch, index.url, tool_caches)  # help.py install sees only the local index
    repo = shop(tmp_path / "shop", server.url)
    server.script["planner"] = [Turn("", [("submit_plan", PLAN)])]
    server.script["coder:discount"] = [
        Turn(
            "",
            [
                ("write_file", {"path": "requirements.txt", "content": "evil @ https://example.invalid/x.whl\n"}),
                ("write_file", {"path": "config/help.toml", "content": '[install]\nvenv = "/tmp/elsewhere"\n'}),
                ("write_file", {"path": "sub/../uv.toml", "content": 'index-url = "http://evil.invalid"\n'}),
                ("add_dependency", {"requirement": "epsilon==1.0"}),
                ("add_dependency", {"requirement": "-e git+https://example.invalid/x"}),
                ("write_file", {"path": "discount.py", "content": "RATE = 0.1\n"}),  # beside the manifest
                ("finish", {"summary": "discount rate"}),
            ],
        )
    ]
    server.script["tester"] = [
        Turn("", [("write_file", {"path": "test_discount.py", "content": TEST}), ("finish", {})])
    ]
    before = tree_hash(repo)
    engine, store = make_engine(repo, server, ["coder:1b"])
    task_id = engine.start("add a discount rate", "given")
    assert engine.run(task_id) == "done", store.task(task_id)["error"]

    worktree = Path(store.task(task_id)["worktree"])
    refused = [c["result"] for c in store.tool_calls(task_id) if not c["ok"]]
    assert any("requirements.txt is a dependency manifest: call add_dependency" in r for r in refused)
    assert any("not a requirement help.py install takes" in r for r in refused)
    assert any("config/help.toml is help.py's configuration" in r for r in refused)
    assert any("sub/../uv.toml is a dependency manifest" in r for r in refused)
    assert not (worktree / "config").exists() and not (worktree / "uv.toml").exists()
    # help.py install added it: the worktree's manifest names it and its environment has it
    assert "epsilon==1.0" in (worktree / "requirements.txt").read_text()
    assert "evil" not in (worktree / "requirements.txt").read_text()
    assert venv_versions(worktree)["epsilon"] == "1.0"
    assert any(r.startswith("/simple/epsilon") for r in index.requests)
    # placed by the project's conventions: src/ layout, tests under tests/
    assert (worktree / "src" / "shop" / "discount.py").is_file() and not (worktree / "discount.py").exists()
    assert (worktree / "tests" / "test_discount.py").is_file() and not (worktree / "test_discount.py").exists()
    placed = sorted(e["note"] for e in store.events(task_id) if e["outcome"] == "placed")
    assert placed == [
        "discount.py -> src/shop/discount.py (the project's conventions)",
        "test_discount.py -> tests/test_discount.py (the project's conventions)",
    ]
    committed = git(worktree, "show", "--name-only", "--format=", "HEAD").split()
    assert {"requirements.txt", "src/shop/discount.py", "tests/test_discount.py"} <= set(committed)
    integration = [r for r in store.results(task_id) if r["kind"] == "integration"][-1]
    assert integration["ok"] and "2 passed" in integration["output"]
    # the user's tree (and environment) untouched until apply
    assert tree_hash(repo) == before and not (repo / ".venv").exists()


def test_a_dependency_the_index_does_not_have_fails_the_task_clearly(tmp_path, server, index, tool_caches, monkeypatch):
    isolate(monkeypatch, index.url, tool_caches)
    repo = shop(tmp_path / "shop", server.url)
    server.script["planner"] = [Turn("", [("submit_plan", PLAN)])]
    server.script["coder:discount"] = [
        Turn("", [("add_dependency", {"requirement": "no-such-package"}), ("finish", {"summary": "x"})])
    ]
    engine, store = make_engine(repo, server, ["coder:1b"])
    task_id = engine.start("add a discount rate", "given")
    assert engine.run(task_id) == "failed"
    error = store.task(task_id)["error"]
    assert error.startswith("sub-task(s) failed: discount: help.py install no-such-package failed:"), error
    assert "not found" in error
    sub = store.subtasks(task_id)[0]
    assert (
        sub["state"] == "failed"
        and [e["outcome"] for e in store.events(task_id) if e["kind"] == "subtask"][-1] == "gave_up"
    )
    assert not [r for r in server.requests if "[role:reviewer]" in str(r.get("messages", [{}])[0])]
