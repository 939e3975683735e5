"""venv + pip projects (requirements*.txt and PEP 621) against the local index, through help.py."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

from tests.conftest import run_help, write
from tests.install.conftest import venv_versions

REQS = "# runtime dependencies\nbeta  # keeps alpha below 2\n\n--no-binary :none:\n"


def test_requirements_project_add_conflict_unknown_uninstall(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    write(root / "requirements.txt", REQS)
    first = run_help("install", "--json", cwd=root)
    assert first.returncode == 0, first.stderr
    summary = json.loads(first.stdout)
    assert {p["name"] for p in summary["added"]} >= {"alpha", "beta"}
    assert venv_versions(root)["alpha"] == "1.0"

    again = run_help("install", "--json", cwd=root)
    assert again.returncode == 0 and json.loads(again.stdout)["status"] == "in-sync"

    # gamma pulls alpha to 2.0, which breaks beta: rolled back, files and env as before.
    before = (root / "requirements.txt").read_bytes()
    conflict = run_help("install", "gamma", cwd=root)
    assert conflict.returncode == 1
    assert "beta 1.0 requires alpha<2, but alpha 2.0 is installed" in conflict.stderr
    assert "gamma" in conflict.stderr  # who wants the other version
    assert (root / "requirements.txt").read_bytes() == before
    versions = venv_versions(root)
    assert versions["alpha"] == "1.0" and "gamma" not in versions

    unknown = run_help("install", "no-such-package", cwd=root)
    assert unknown.returncode == 1
    assert "'no-such-package' was not found on the package index" in unknown.stderr
    assert (root / "requirements.txt").read_bytes() == before

    dev = run_help("install", "delta==1.0", "--dev", cwd=root)
    assert dev.returncode == 0, dev.stderr
    assert (root / "requirements-dev.txt").read_text() == "delta==1.0\n"
    assert (root / "requirements.txt").read_bytes() == before
    assert venv_versions(root)["delta"] == "1.0"
    outdated = run_help("install", "--outdated", "--json", cwd=root)
    assert outdated.returncode == 0, outdated.stderr
    assert {"name": "delta", "version": "1.0", "latest": "1.1"} in json.loads(outdated.stdout)
    listed = run_help("install", "--list", "--json", cwd=root)
    assert {"name": "beta", "version": "1.0"} in json.loads(listed.stdout)

    # Unpin by hand, then upgrade: the summary names the move.
    (root / "requirements-dev.txt").write_text("delta  # any version\n")
    upgraded = run_help("install", "--upgrade", "delta", "--json", cwd=root)
    assert upgraded.returncode == 0, upgraded.stderr
    assert json.loads(upgraded.stdout)["upgraded"] == [{"name": "delta", "from": "1.0", "to": "1.1"}]

    gone = run_help("uninstall", "delta", cwd=root)
    assert gone.returncode == 0, gone.stderr
    assert (root / "requirements-dev.txt").read_text() == ""
    assert "delta" not in venv_versions(root)

    not_declared = run_help("uninstall", "epsilon", cwd=root)
    assert not_declared.returncode == 1 and "not a dependency of this project" in not_declared.stderr


def test_pep621_project_edits_pyproject_keeping_its_layout(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    original = (
        "# The sample project\n"
        "[project]\n"
        'name = "sample"  # its name\n'
        'version = "0.1.0"\n'
        "dependencies = [\n"
        '    "beta",  # the only runtime dependency\n'
        "]\n"
        "\n"
        "[tool.other]\n"
        "keep = 'this exactly'   # and this comment\n"
    )
    write(root / "pyproject.toml", original)
    assert run_help("install", cwd=root).returncode == 0

    dev = run_help("install", "delta", "--dev", cwd=root)
    assert dev.returncode == 0, dev.stderr
    extra = run_help("install", "epsilon>=1.0", "--optional", "fast", cwd=root)
    assert extra.returncode == 0, extra.stderr
    text = (root / "pyproject.toml").read_text()
    assert text.startswith(original)  # everything before is untouched, byte for byte
    data = tomllib.loads(text)
    assert data["dependency-groups"]["dev"] == ["delta>=1.1"]  # the lower bound of what was installed
    assert data["project"]["optional-dependencies"]["fast"] == ["epsilon>=1.0"]
    assert {"delta", "epsilon"} <= set(venv_versions(root))

    removed = run_help("uninstall", "epsilon", cwd=root)
    assert removed.returncode == 0, removed.stderr
    assert tomllib.loads((root / "pyproject.toml").read_text())["project"]["optional-dependencies"]["fast"] == []


def test_bad_input_changes_nothing(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    broken = '[project]\nname = "x"\ndependencies = ["beta"\n'
    write(root / "pyproject.toml", broken)
    result = run_help("install", "alpha", cwd=root)
    assert result.returncode == 2
    assert "pyproject.toml:" in result.stderr and "invalid TOML" in result.stderr
    assert (root / "pyproject.toml").read_text() == broken

    write(root / "pyproject.toml", '[project]\nname = "x"\nversion = "1"\n')
    bad_spec = run_help("install", "alpha>>1", cwd=root)
    assert bad_spec.returncode == 2 and "not a valid requirement" in bad_spec.stderr
    both = run_help("install", "alpha", "--dev", "--group", "docs", cwd=root)
    assert both.returncode == 2
    assert (root / "pyproject.toml").read_text() == '[project]\nname = "x"\nversion = "1"\n'
    assert not (root / ".venv").exists()


def test_test_groups_and_extras_are_part_of_the_dev_set(tmp_path: Path) -> None:
    """Projects such as toolz declare pytest only in a `test` group: `install` (and so `test`) must install it."""
    root = tmp_path / "proj"
    write(
        root / "pyproject.toml",
        '[project]\nname = "x"\nversion = "1"\ndependencies = ["beta"]\n'
        '[project.optional-dependencies]\ntesting = ["delta==1.0"]\ndocs = ["gamma"]\n'
        '[dependency-groups]\ntest = ["epsilon", {include-group = "lint"}]\nlint = ["alpha<2"]\n',
    )
    result = run_help("install", cwd=root)
    assert result.returncode == 0, result.stderr
    versions = venv_versions(root)
    assert {"beta", "delta", "epsilon", "alpha"} <= set(versions)
    assert versions["delta"] == "1.0"
    assert "gamma" not in versions  # other extras stay optional

    again = run_help("install", "--json", cwd=root)
    assert again.returncode == 0 and json.loads(again.stdout)["status"] == "in-sync"

    write(root / "requirements.txt", "beta\n")
    write(root / "requirements-test.txt", "epsilon\n")
    write(root / "requirements-docs.txt", "gamma\n")
    (root / "pyproject.toml").unlink()
    reqs = run_help("install", cwd=root)
    assert reqs.returncode == 0, reqs.stderr
    versions = venv_versions(root)
    assert {"beta", "epsilon"} <= set(versions) and "gamma" not in versions
