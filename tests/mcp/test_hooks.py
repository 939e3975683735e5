"""Git hooks: the repository's .pre-commit-hooks.yaml under real pre-commit, and `help.py hooks install/uninstall`."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

from tests.conftest import PYTEST_PROJECT, ROOT, clean_env, git, need_tool, run_help

FAILING = "def test_broken():\n    assert False\n"


def commit(repo: Path, message: str) -> subprocess.CompletedProcess[str]:
    env = clean_env(
        {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    )
    return subprocess.run(
        ["git", "commit", "-qm", message], cwd=repo, env=env, capture_output=True, text=True, timeout=300
    )


def test_pre_commit_runs_the_hooks_manifest(git_repo: Callable[..., Path]) -> None:
    pre_commit = need_tool("pre-commit", "pip install pre-commit (listed in .ci/pip.d/mcp.txt)")
    repo = git_repo(pyproject=PYTEST_PROJECT, files={"tests/test_ok.py": "def test_ok():\n    assert True\n"})

    def try_repo() -> subprocess.CompletedProcess[str]:
        env = clean_env({"PRE_COMMIT_HOME": str(repo.parent / "pre-commit-home")})
        return subprocess.run(
            [pre_commit, "try-repo", str(ROOT), "help-py-test", "--all-files"],
            cwd=repo,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )

    passed = try_repo()
    assert passed.returncode == 0, passed.stdout[-3000:] + passed.stderr[-2000:]
    assert "help.py test --changed" in passed.stdout and "Passed" in passed.stdout
    (repo / "tests" / "test_broken.py").write_text(FAILING)
    git(repo, "add", "tests/test_broken.py")
    failed = try_repo()
    assert failed.returncode == 1, failed.stdout[-3000:]
    assert "test_broken" in failed.stdout


def test_hooks_install_keeps_and_restores_the_previous_hook(git_repo: Callable[..., Path]) -> None:
    repo = git_repo(pyproject=PYTEST_PROJECT, files={"tests/test_ok.py": "def test_ok():\n    assert True\n"})
    hook = repo / ".git" / "hooks" / "pre-commit"
    previous = '#!/bin/sh\necho ran >> "$(git rev-parse --show-toplevel)/previous-hook-ran"\n'
    hook.write_text(previous)
    os.chmod(hook, 0o751)
    done = run_help("hooks", "install", cwd=repo)
    assert done.returncode == 0, done.stderr
    assert "help.py hooks install" in hook.read_text() and os.access(hook, os.X_OK)
    (repo / "tests" / "test_more.py").write_text("def test_more():\n    assert True\n")
    git(repo, "add", "-A")
    ok = commit(repo, "more tests")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert (repo / "previous-hook-ran").read_text() == "ran\n"  # the previous hook still runs, first
    (repo / "tests" / "test_broken.py").write_text(FAILING)
    git(repo, "add", "tests/test_broken.py")
    refused = commit(repo, "broken")
    assert refused.returncode != 0 and "test_broken" in refused.stdout + refused.stderr
    assert run_help("--json", "hooks", "status", cwd=repo).stdout.count('"installed"') == 1
    assert run_help("hooks", "uninstall", cwd=repo).returncode == 0
    assert hook.read_text() == previous and (hook.stat().st_mode & 0o777) == 0o751
    assert not (hook.parent / "pre-commit.help-py-saved").exists()


def test_uninstall_leaves_a_foreign_hook_alone(git_repo: Callable[..., Path]) -> None:
    repo = git_repo()
    hook = repo / ".git" / "hooks" / "pre-push"
    hook.write_text("#!/bin/sh\nexit 0\n")
    done = run_help("hooks", "uninstall", "--hook", "pre-push", cwd=repo)
    assert done.returncode == 0 and "left alone" in done.stdout
    assert hook.read_text() == "#!/bin/sh\nexit 0\n"
