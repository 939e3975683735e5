"""--bump, --tag and their rollback, on real git repositories."""

from __future__ import annotations

import pytest

from helper.building.versioning import bump, normalize
from helper.errors import HelpError
from tests.building.conftest import help_json, package_name
from tests.conftest import git, run_help, write


@pytest.mark.parametrize(
    ("old", "part", "new"),
    [
        ("1.2.3", "major", "2.0.0"),
        ("1.2.3", "minor", "1.3.0"),
        ("1.2.3", "patch", "1.2.4"),
        ("1.2.3", "pre", "1.2.4a1"),
        ("1.3.0rc1", "pre", "1.3.0rc2"),
        ("1.3.0rc1", "minor", "1.3.0"),
        ("1.3.0rc1", "patch", "1.3.0"),
        ("2.0.0b2", "major", "2.0.0"),
        ("0.1", "patch", "0.1.1"),
        ("1!1.0.0.post2", "minor", "1!1.1.0"),
    ],
)
def test_pep440_bumps(old, part, new):
    assert bump(old, part) == new


def test_pep440_normalisation_and_bad_versions():
    assert normalize("1.0-RC-1") == "1.0rc1"
    assert normalize("v2.1.post") == "2.1.post0"
    with pytest.raises(HelpError, match="not a PEP 440 version"):
        bump("banana", "patch")


def state(root):
    pkg = package_name("hatchling")
    return (
        (root / "pyproject.toml").read_text(),
        (root / "src" / pkg / "__init__.py").read_text(),
        git(root, "rev-parse", "HEAD").strip(),
        git(root, "tag", "--list").split(),
        git(root, "status", "--porcelain"),
    )


def test_bump_patch_updates_every_place_and_builds(backend_project, build_env):
    root = backend_project("hatchling")
    data = help_json("build", "--bump", "patch", cwd=root, env=build_env)
    assert data["bumped"]["from"] == "0.3.0" and data["bumped"]["to"] == "0.3.1"
    assert sorted(data["bumped"]["files"]) == ["pyproject.toml", f"src/{package_name('hatchling')}/__init__.py"]
    assert 'version = "0.3.1"' in (root / "pyproject.toml").read_text()
    assert '__version__ = "0.3.1"' in (root / "src" / package_name("hatchling") / "__init__.py").read_text()
    assert sorted(a["name"] for a in data["artifacts"]) == [
        "demo_hatchling-0.3.1-py3-none-any.whl",
        "demo_hatchling-0.3.1.tar.gz",
    ]


def test_poetry_version_is_bumped_in_tool_poetry(backend_project, build_env):
    root = backend_project("poetry-core")
    data = help_json("build", "--bump", "minor", "--sdist", cwd=root, env=build_env)
    assert data["bumped"]["to"] == "0.4.0"
    text = (root / "pyproject.toml").read_text()
    assert 'version = "0.4.0"' in text and "0.3.0" not in text
    assert [a["name"] for a in data["artifacts"]] == ["demo_poetry_core-0.4.0.tar.gz"]


def test_disagreeing_versions_are_refused(backend_project, build_env):
    root = backend_project("hatchling")
    write(root / "src" / package_name("hatchling") / "__init__.py", '__version__ = "0.2.9"\n')
    before = (root / "pyproject.toml").read_text()
    result = run_help("build", "--bump", "patch", cwd=root, env=build_env)
    assert result.returncode == 1
    assert "the version differs between its places" in result.stderr
    assert (root / "pyproject.toml").read_text() == before


def test_bump_and_tag_commit_and_tag(backend_project, build_env):
    root = backend_project("hatchling")
    data = help_json("build", "--bump", "minor", "--tag", cwd=root, env=build_env)
    assert data["tag"] == "v0.4.0"
    assert git(root, "log", "-1", "--format=%s").strip() == "Release 0.4.0"
    assert git(root, "rev-parse", "v0.4.0^{commit}").strip() == git(root, "rev-parse", "HEAD").strip()
    assert git(root, "status", "--porcelain", "--untracked-files=no") == ""


def test_tag_failure_rolls_back_bump_and_commit(backend_project, build_env):
    root = backend_project("hatchling")
    git(root, "tag", "v0.3.1")  # the tag the bump would make already exists
    before = state(root)
    result = run_help("build", "--bump", "patch", "--tag", cwd=root, env=build_env)
    assert result.returncode == 1
    assert "could not create tag v0.3.1" in result.stderr and "already exists" in result.stderr
    assert "rolled back: tag" not in result.stderr  # the tag step itself did nothing
    assert "rolled back: commit, bump 0.3.0 -> 0.3.1" in result.stderr
    assert state(root) == before
    assert not (root / "dist").exists()


def test_build_failure_after_tag_rolls_everything_back(backend_project, build_env):
    root = backend_project("hatchling")
    # A wrong build backend fails the build step, which runs after the tag.
    text = (
        (root / "pyproject.toml")
        .read_text()
        .replace('build-backend = "hatchling.build"', 'build-backend = "hatchling.nonexistent"')
    )
    (root / "pyproject.toml").write_text(text)
    git(root, "commit", "-qam", "break the backend")
    before = state(root)
    result = run_help("build", "--bump", "patch", "--tag", cwd=root, env=build_env)
    assert result.returncode == 1
    assert "cannot import build backend" in result.stderr
    assert "rolled back: tag v0.3.1, commit, bump 0.3.0 -> 0.3.1" in result.stderr
    assert state(root) == before


def test_dirty_tree_refused_unless_allowed(backend_project, build_env):
    root = backend_project("hatchling")
    write(root / "README.md", "# changed\n")
    result = run_help("build", "--tag", cwd=root, env=build_env)
    assert result.returncode == 1
    assert "uncommitted changes (README.md)" in result.stderr and "--allow-dirty" in result.stderr
    assert git(root, "tag", "--list") == ""
    data = help_json("build", "--tag", "--allow-dirty", cwd=root, env=build_env)
    assert data["tag"] == "v0.3.0"
    assert git(root, "status", "--porcelain", "--untracked-files=no").strip() == "M README.md"


def test_dirty_bump_commits_only_version_files(backend_project, build_env):
    root = backend_project("hatchling")
    write(root / "README.md", "# work in progress\n")
    data = help_json("build", "--bump", "pre", "--tag", "--allow-dirty", cwd=root, env=build_env)
    assert data["tag"] == "v0.3.1a1"
    committed = git(root, "show", "--name-only", "--format=", "HEAD").split()
    assert sorted(committed) == ["pyproject.toml", f"src/{package_name('hatchling')}/__init__.py"]
    assert "README.md" in git(root, "status", "--porcelain")


def test_tag_outside_git_is_refused(make_project, build_env):
    root = make_project()
    result = run_help("build", "--tag", cwd=root, env=build_env)
    assert result.returncode == 1
    assert "is not a git repository" in result.stderr


def test_flit_version_lives_only_in_the_package(backend_project, build_env):
    root = backend_project("flit-core")
    data = help_json("build", "--bump", "major", "--wheel", cwd=root, env=build_env)
    assert data["bumped"] == {"from": "0.3.0", "to": "1.0.0", "files": [f"src/{package_name('flit-core')}/__init__.py"]}
    assert data["artifacts"][0]["name"].startswith("demo_flit_core-1.0.0-")


def test_two_bumps_at_once_lose_no_update(backend_project, build_env):
    import threading

    root = backend_project("hatchling")
    results = []

    def bump_once() -> None:
        results.append(run_help("build", "--bump", "patch", "--tag", "--sdist", cwd=root, env=build_env))

    threads = [threading.Thread(target=bump_once) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [r.returncode for r in results] == [0, 0], [r.stderr for r in results]
    assert 'version = "0.3.2"' in (root / "pyproject.toml").read_text()
    assert sorted(git(root, "tag", "--list").split()) == ["v0.3.1", "v0.3.2"]
    assert git(root, "log", "--format=%s", "-2").split("\n")[:2] == ["Release 0.3.2", "Release 0.3.1"]


def test_transaction_undoes_in_reverse_and_keeps_interrupted_steps():
    from helper.building.release import Transaction

    log: list[str] = []
    tx = Transaction()
    tx.step("one", lambda: log.append("do one"), lambda: log.append("undo one"))
    with pytest.raises(HelpError):
        tx.step("fails", lambda: (_ for _ in ()).throw(HelpError("no")), lambda: log.append("undo fails"))

    def interrupted() -> None:
        log.append("do two")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        tx.step("two", interrupted, lambda: log.append("undo two"))
    undone, problems = tx.rollback()
    assert undone == ["two", "one"] and problems == []
    assert log == ["do one", "do two", "undo two", "undo one"]


def test_bad_tag_format_is_a_config_error_before_any_change(backend_project, build_env):
    root = backend_project("hatchling")
    before = state(root)
    result = run_help("build", "--tag", cwd=root, env={**build_env, "HELP_BUILD__TAG_FORMAT": "v{ver}"})
    assert result.returncode == 2
    assert "build.tag_format = 'v{ver}' cannot be filled in" in result.stderr
    assert state(root) == before
