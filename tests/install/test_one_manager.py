"""One manager decision: every command names the same manager, for the same reason."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import need_tool, run_help, write
from tests.install.conftest import Index


def test_poetry_and_uv_tables_give_one_manager_everywhere(tmp_path: Path, index: Index) -> None:
    need_tool("poetry", "pip install poetry")
    root = tmp_path / "both"
    write(
        root / "pyproject.toml",
        """
        [project]
        name = "both"
        version = "0.1.0"
        requires-python = ">=3.11"
        dependencies = []

        [tool.poetry]
        package-mode = false

        [tool.uv]
        dev-dependencies = []
        """,
    )
    env = run_help("env", "--json", cwd=root)
    check = run_help("env", "check", "--offline", "--json", cwd=root)
    install = run_help("install", "--json", cwd=root, timeout=600)  # decides before it writes poetry.lock
    assert install.returncode == 0, install.stderr
    named = [
        (data["manager"], data["manager_reason"])
        for data in (json.loads(install.stdout), json.loads(check.stdout), json.loads(env.stdout))
    ]
    assert named == [("poetry", "found [tool.poetry]")] * 3
