"""The project's context: conventions read from its files; cached by fingerprint with a TTL, dropped on change."""

from __future__ import annotations

from pathlib import Path

from plugins.agent.context import ContextCache
from tests.agent.conftest import git, make_engine
from tests.conftest import write


def src_project(root: Path) -> Path:
    write(
        root / "pyproject.toml",
        """
        [project]
        name = "shop"
        version = "1.0"
        dependencies = ["alpha>=1"]

        [tool.ruff]
        line-length = 100

        [tool.mypy]
        strict = true
        """,
    )
    write(root / "src" / "shop" / "__init__.py", "from __future__ import annotations\n")
    write(root / "src" / "shop" / "cart.py", "from __future__ import annotations\n\nfrom shop import prices\n")
    write(root / "src" / "shop" / "prices.py", "from __future__ import annotations\n")
    write(root / "tests" / "test_cart.py", "import pytest\n\nfrom shop import cart\n")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "shop")
    return root


def test_conventions_and_placement_come_from_the_projects_files(tmp_path):
    root = src_project(tmp_path / "shop")
    context = ContextCache(tmp_path / "cache").get(root)
    c = context.conventions
    assert (c.layout, c.package, c.tests_dir, c.framework) == ("src", "shop", "tests", "pytest")
    assert (c.formatter, c.line_length, c.linters) == ("ruff format", 100, ["ruff", "mypy"])
    assert c.imports == "absolute" and c.future_annotations
    assert c.dependencies == ["alpha>=1"] and c.manifest == "pyproject.toml [project]"
    assert c.place("test_discount.py") == "tests/test_discount.py"
    assert c.place("discount.py") == "src/shop/discount.py"
    assert c.place("src/shop/discount.py") == "src/shop/discount.py" and c.place("README.md") == "README.md"
    text = context.text()
    assert "layout: src (src/shop/)" in text and "tests: tests/ with pytest" in text
    assert "line length 100" in text and "--- pyproject.toml ---" in text and "src/shop/cart.py" in text


def test_an_unchanged_project_reuses_its_context_a_change_or_the_ttl_rebuilds_it(tmp_path):
    root = src_project(tmp_path / "shop")
    now = [1000.0]
    cache = ContextCache(tmp_path / "cache", ttl=60, clock=lambda: now[0])
    first = cache.get(root)
    assert cache.get(root).fingerprint == first.fingerprint and cache.builds == 1
    again = ContextCache(tmp_path / "cache", ttl=60, clock=lambda: now[0])  # another run: read from disk
    assert again.get(root).to_dict() == first.to_dict() and again.builds == 0

    (root / "src" / "shop" / "prices.py").write_text("TAX = 0.2\n")  # a project file changes
    changed = cache.get(root)
    assert cache.builds == 2 and changed.fingerprint != first.fingerprint
    assert cache.get(root).fingerprint == changed.fingerprint and cache.builds == 2

    write(root / "src" / "shop" / "discount.py", "RATE = 0.1\n")  # a new (untracked) file is a change too
    assert "src/shop/discount.py" in cache.get(root).files and cache.builds == 3

    now[0] += 61  # older than the TTL
    cache.get(root)
    assert cache.builds == 4


def test_the_engine_builds_a_context_once_per_state_of_the_worktree(repo, server):
    engine, store = make_engine(repo, server, ["coder:1b"])
    task_id = engine.start("make add add", "given")
    assert engine.run(task_id) == "done"
    # 5 asks (planner, 2 coders, 2 testers) over 4 trees: the planner and the first coder saw the same one,
    # every later role saw the previous role's writes
    built = engine.contexts.builds
    assert built == 4
    worktree = Path(store.task(task_id)["worktree"])
    engine.context(worktree)
    assert engine.contexts.builds == built  # nothing changed since the last step
    (worktree / "calc.py").write_text("def add(a, b):\n    return b + a\n")
    assert "calc.py" in engine.context(worktree) and engine.contexts.builds == built + 1
