"""The PEP 517 front end against `python -m build`, with each of the five backends."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
from pathlib import Path

import pytest

from tests.building.conftest import BACKENDS, help_json, package_name, sdist_metadata, wheel_metadata
from tests.conftest import run_help, write


def python_m_build(tools_python: Path, root: Path, outdir: Path, env: dict[str, str]) -> list[str]:
    cmd = [str(tools_python), "-m", "build", "--outdir", str(outdir), str(root)]
    if shutil.which("uv"):
        cmd.insert(3, "--installer=uv")
    result = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **env}, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    return sorted(p.name for p in outdir.iterdir())


@pytest.mark.parametrize("backend", list(BACKENDS))
def test_same_artifacts_as_python_m_build(backend, backend_project, build_env, tools_python, tmp_path):
    root = backend_project(backend)
    first = help_json("build", cwd=root, env=build_env)
    assert first["cached"] is False
    ours = sorted(a["name"] for a in first["artifacts"])
    theirs = python_m_build(tools_python, root, tmp_path / "peer", build_env)
    assert ours == theirs
    assert sorted(p.name for p in (root / "dist").iterdir()) == ours
    for name in ours:
        mine, peer = root / "dist" / name, tmp_path / "peer" / name
        read = wheel_metadata if name.endswith(".whl") else sdist_metadata
        assert read(mine) == read(peer), name
        assert read(mine)["Version"] == ["0.3.0"]
    # The build environment holds the backend itself, so its version is part of the key.
    wheel = next(a for a in first["artifacts"] if a["name"].endswith(".whl"))
    assert wheel["sha256"] and wheel["size"] > 0

    again = help_json("build", cwd=root, env=build_env)
    assert again["cached"] is True
    assert again["key"] == first["key"]
    assert [a["sha256"] for a in again["artifacts"]] == [a["sha256"] for a in first["artifacts"]]


def test_unchanged_tree_is_cached_and_edits_rebuild(backend_project, build_env):
    root = backend_project("hatchling")
    first = help_json("build", cwd=root, env=build_env)
    # Ignored files and the output directory are not inputs.
    write(root / "notes.log", "scratch\n")
    (root / "dist" / "stray.txt").write_text("x")
    second = help_json("build", cwd=root, env=build_env)
    assert second["cached"] is True and second["key"] == first["key"]

    # A deleted artifact comes back from the cache, byte for byte.
    wheel = next(Path(a["path"]) for a in first["artifacts"] if a["name"].endswith(".whl"))
    original = wheel.read_bytes()
    wheel.unlink()
    third = help_json("build", cwd=root, env=build_env)
    assert third["cached"] is True and wheel.read_bytes() == original

    write(root / "src" / package_name("hatchling") / "core.py", "def answer():\n    return 43\n")
    fourth = help_json("build", cwd=root, env=build_env)
    assert fourth["cached"] is False and fourth["key"] != first["key"]

    # An untracked (not ignored) new file is an input too.
    write(root / "src" / package_name("hatchling") / "extra.py", "X = 1\n")
    fifth = help_json("build", cwd=root, env=build_env)
    assert fifth["cached"] is False
    import zipfile

    with zipfile.ZipFile(next(Path(a["path"]) for a in fifth["artifacts"] if a["name"].endswith(".whl"))) as archive:
        assert f"{package_name('hatchling')}/extra.py" in archive.namelist()


def test_state_and_ignored_files_never_reach_the_sdist(backend_project, build_env):
    import tarfile

    root = backend_project("hatchling")
    write(root / "secret.log", "do not ship\n")
    data = help_json("build", "--no-cache", cwd=root, env=build_env)
    sdist = next(Path(a["path"]) for a in data["artifacts"] if a["name"].endswith(".tar.gz"))
    with tarfile.open(sdist) as archive:
        names = archive.getnames()
    assert not any("/.help" in n or n.endswith("secret.log") for n in names), names


def test_wheel_only_and_sdist_only(backend_project, build_env):
    root = backend_project("flit-core")
    wheel = help_json("build", "--wheel", cwd=root, env=build_env)
    names = [a["name"] for a in wheel["artifacts"]]
    assert len(names) == 1 and names[0].startswith("demo_flit_core-0.3.0-") and names[0].endswith(".whl")
    sdist = help_json("build", "--sdist", "-o", "out", cwd=root, env=build_env)
    assert [a["name"] for a in sdist["artifacts"]] == ["demo_flit_core-0.3.0.tar.gz"]
    assert (root / "out" / "demo_flit_core-0.3.0.tar.gz").is_file()


def test_no_isolation_uses_the_given_interpreter(backend_project, build_env, tools_python):
    root = backend_project("flit-core")
    env = {**build_env, "HELP_BUILD__PYTHON": str(tools_python)}
    data = help_json("build", "--no-isolation", cwd=root, env=env)
    names = sorted(a["name"] for a in data["artifacts"])
    assert names[0] == "demo_flit_core-0.3.0.tar.gz" or names[1] == "demo_flit_core-0.3.0.tar.gz"
    assert len(names) == 2 and any(n.endswith("-none-any.whl") for n in names)
    # Nothing was installed: an interpreter without the backend fails with the backend's name.
    bare = subprocess.run(["git", "-C", str(root), "status", "--porcelain"], capture_output=True, text=True).stdout
    assert bare == ""
    env["HELP_BUILD__PYTHON"] = shutil.which("python3") or "python3"
    write(root / "pyproject.toml", BACKENDS["pdm-backend"])
    result = run_help("build", "--no-isolation", cwd=root, env=env)
    assert result.returncode == 1
    assert "cannot import build backend 'pdm.backend'" in result.stderr


def test_two_builds_at_once_both_succeed(backend_project, build_env):
    root = backend_project("pdm-backend")
    results: list[object] = []

    def go() -> None:
        results.append(run_help("build", "--json", cwd=root, env=build_env))

    threads = [threading.Thread(target=go) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    outs = [json.loads(r.stdout) for r in results]  # type: ignore[attr-defined]
    assert all(r.returncode == 0 for r in results), [r.stderr for r in results]  # type: ignore[attr-defined]
    assert sorted(o["cached"] for o in outs) == [False, True]
    assert outs[0]["artifacts"] == outs[1]["artifacts"]


def test_malformed_pyproject_is_a_config_error(backend_project, build_env):
    root = backend_project("hatchling")
    text = (root / "pyproject.toml").read_text()
    (root / "pyproject.toml").write_text(text + "\n[broken\n")
    result = run_help("build", cwd=root, env=build_env)
    assert result.returncode == 2
    assert "pyproject.toml:" in result.stderr and "invalid TOML" in result.stderr
    assert "Traceback" not in result.stderr
    (root / "pyproject.toml").write_text(text.replace('requires = ["hatchling"]', 'requires = "hatchling"'))
    result = run_help("build", cwd=root, env=build_env)
    assert result.returncode == 2
    assert "requires must be a list of strings" in result.stderr


def test_failing_backend_reports_and_writes_nothing(backend_project, build_env):
    root = backend_project("setuptools")
    write(root / "setup.py", "raise SystemExit('setup.py refuses: missing LICENSE')\n")
    result = run_help("build", cwd=root, env=build_env)
    assert result.returncode == 1
    assert "build_sdist failed" in result.stderr or "get_requires_for_build_sdist failed" in result.stderr
    assert "missing LICENSE" in result.stderr
    assert not (root / "dist").exists()


def test_unknown_build_requirement_is_a_clear_error(backend_project, build_env):
    root = backend_project("hatchling")
    text = (
        (root / "pyproject.toml")
        .read_text()
        .replace('requires = ["hatchling"]', 'requires = ["hatchling", "no-such-package-help-py-test==9.9"]')
    )
    (root / "pyproject.toml").write_text(text)
    result = run_help("build", cwd=root, env=build_env)
    assert result.returncode == 1
    assert "could not install the build requirements" in result.stderr
    assert "no-such-package-help-py-test" in result.stderr


def test_pip_fills_the_environment_when_asked(backend_project, build_env, tmp_path):
    root = backend_project("flit-core")
    # Its own build-env cache: whichever earlier test made the shared one must not matter.
    env = {**build_env, "HELP_BUILD__INSTALLER": "pip", "XDG_CACHE_HOME": str(tmp_path / "xdg")}
    result = run_help("build", "--wheel", cwd=root, env=env)
    assert result.returncode == 0, result.stderr
    assert "creating the build environment (pip): flit_core>=3.4" in result.stderr
    wheels = [p.name for p in (root / "dist").iterdir()]
    assert len(wheels) == 1 and wheels[0].startswith("demo_flit_core-0.3.0-")
    envs = list((tmp_path / "xdg" / "help" / "build-envs").iterdir())
    assert any((e / "bin" / "pip").exists() for e in envs if e.is_dir())


def test_config_settings_reach_the_backend_and_the_key(backend_project, build_env):
    root = backend_project("setuptools")
    plain = help_json("build", "--wheel", cwd=root, env=build_env)
    tagged = help_json(
        "build", "--wheel", "--config-setting=--build-option=--python-tag=py311", cwd=root, env=build_env
    )
    assert tagged["cached"] is False and tagged["key"] != plain["key"]
    assert tagged["artifacts"][0]["name"] == "demo_setuptools-0.3.0-py311-none-any.whl"
    result = run_help("build", "--config-setting", "novalue", cwd=root, env=build_env)
    assert result.returncode == 2 and "is not KEY=VALUE" in result.stderr


def test_unwritable_outdir_is_a_clear_error(backend_project, build_env, tmp_path):
    root = backend_project("hatchling")
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the output directory should be")
    result = run_help("build", "-o", str(blocker / "dist"), cwd=root, env=build_env)
    assert result.returncode == 1
    assert f"cannot write to {blocker / 'dist'}" in result.stderr and "Traceback" not in result.stderr


DELEGATING_BACKEND = """
def get_requires_for_build_sdist(config_settings=None):
    return ["flit_core>=3.4"]

def get_requires_for_build_wheel(config_settings=None):
    return ["flit_core>=3.4"]

def build_sdist(sdist_directory, config_settings=None):
    from flit_core import buildapi  # installed only because get_requires asked for it
    return buildapi.build_sdist(sdist_directory, config_settings)

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    from flit_core import buildapi
    return buildapi.build_wheel(wheel_directory, config_settings, metadata_directory)
"""


def test_in_tree_backend_gets_its_dynamic_requirements(tmp_path, build_env):
    from tests.conftest import git

    root = tmp_path / "intree"
    write(
        root / "pyproject.toml",
        """
        [build-system]
        requires = []
        build-backend = "delegating"
        backend-path = ["_backend"]

        [project]
        name = "intree_demo"
        version = "1.2.0"
        description = "in-tree backend"

        [tool.flit.sdist]
        include = ["_backend/"]
        """,
    )
    write(root / "_backend" / "delegating.py", DELEGATING_BACKEND)
    write(root / "intree_demo.py", '"""Demo."""\n')
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "initial")
    first = help_json("build", cwd=root, env=build_env)
    sdist, wheel = sorted(a["name"] for a in first["artifacts"])[::-1]
    assert sdist == "intree_demo-1.2.0.tar.gz" and wheel.startswith("intree_demo-1.2.0-") and wheel.endswith(".whl")
    # The requirements the hooks asked for are part of the key: the next run is a hit.
    assert help_json("build", cwd=root, env=build_env)["cached"] is True


def test_a_dynamic_version_is_reported_on_a_cached_build_too(backend_project, build_env):
    root = backend_project("flit-core")  # version = __version__ in the package
    first = help_json("build", cwd=root, env=build_env)
    again = help_json("build", cwd=root, env=build_env)
    assert first["cached"] is False and again["cached"] is True
    assert first["version"] == again["version"] == "0.3.0"
