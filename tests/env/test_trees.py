"""Detection on directory trees laid out as conda, mamba, pixi, pyenv, pipenv, containers and WSL lay them."""

from __future__ import annotations

from pathlib import Path

from helper.envs import hatch, pipenv, poetry
from helper.envs.base import Context
from tests.conftest import write
from tests.env.conftest import by_kind, fake_conda, fake_pyenv, fake_venv, run_detect, touch_exe


def test_conda_env_named_by_environment_yml(tmp_path: Path) -> None:
    root = tmp_path / "root"
    base = fake_conda(
        root / "home/u/miniconda3", "3.12.2", cmd="/home/u/miniconda3/bin/conda install -y python=3.12", base=True
    )
    fake_conda(base / "envs" / "ds", "3.11.5", cmd="/home/u/miniconda3/bin/conda create -n ds python=3.11")
    fake_conda(root / "home/u/micromamba/envs/mm", "3.10.14", cmd="micromamba create -n mm python=3.10")
    write(root / "home/u/.conda/environments.txt", "/home/u/miniconda3\n/home/u/miniconda3/envs/ds\n")
    project = write(
        root / "work/proj/environment.yml", "name: ds\nchannels: [conda-forge]\ndependencies:\n  - python=3.11\n"
    ).parent
    found = run_detect(project, root=root)
    chosen = found.chosen
    assert chosen is not None and chosen.kind == "conda" and chosen.name == "ds"
    assert chosen.version == "3.11.5" and chosen.manager == "conda" and chosen.project == str(project)
    assert "environment.yml asks for 'ds'" in chosen.reason
    conda = {e.name: e for e in by_kind(found, "conda")}
    assert conda["base"].version == "3.12.2" and conda["mm"].manager == "micromamba"


def test_condarc_envs_dirs_and_active_conda_prefix(tmp_path: Path) -> None:
    root = tmp_path / "root"
    fake_conda(root / "data/envs/analysis", "3.12.4", cmd="mamba create -p /data/envs/analysis python=3.12")
    fake_conda(root / "srv/py/tool-env", "3.10.2", cmd="conda create -p /srv/py/tool-env python=3.10")
    write(root / "home/u/.conda/environments.txt", "/srv/py/tool-env\n")
    write(root / "home/u/.condarc", "channels:\n  - conda-forge\nenvs_dirs:\n  - /data/envs\n  - ~/other\n")
    project = write(root / "work/proj/pyproject.toml", '[project]\nname = "p"\n').parent
    found = run_detect(
        project, root=root, environ={"CONDA_PREFIX": "/data/envs/analysis", "CONDA_DEFAULT_ENV": "analysis"}
    )
    chosen = found.chosen
    assert chosen is not None and chosen.name == "analysis" and chosen.active
    assert chosen.manager == "mamba" and chosen.version == "3.12.4"
    assert "CONDA_PREFIX=/data/envs/analysis" in chosen.reason
    by_path = {e.name: e for e in by_kind(found, "conda")}
    assert by_path["tool-env"].version == "3.10.2" and not by_path["tool-env"].project  # a -p env keeps its dir name


def test_pixi_project_env(tmp_path: Path) -> None:
    root = tmp_path / "root"
    project = write(
        root / "work/proj/pixi.toml", '[project]\nname = "p"\nchannels = ["conda-forge"]\nplatforms = ["linux-64"]\n'
    ).parent
    fake_conda(project / ".pixi/envs/default", "3.12.5", cmd="pixi install", pixi=True)
    fake_conda(project / ".pixi/envs/test", "3.11.9", cmd="pixi install", pixi=True)
    found = run_detect(project, root=root)
    chosen = found.chosen
    assert chosen is not None and chosen.kind == "pixi" and chosen.name == "default" and chosen.version == "3.12.5"
    assert {e.name for e in by_kind(found, "pixi")} == {"default", "test"}


def test_pyenv_local_version_prefix_and_shim_resolution(tmp_path: Path) -> None:
    root = tmp_path / "root"
    fake_pyenv(root / "home/u/.pyenv", "3.11.7", "3.12.1", "3.12.4")
    write(root / "home/u/.pyenv/version", "3.11.7\n")
    project = write(root / "work/proj/.python-version", "3.12\n").parent
    environ = {"PATH": "/home/u/.pyenv/shims:/usr/bin", "PYENV_ROOT": "/home/u/.pyenv"}
    found = run_detect(project, root=root, environ=environ)
    chosen = found.chosen
    assert chosen is not None and chosen.kind == "pyenv" and chosen.name == "3.12.4"  # newest 3.12.x, as pyenv does
    assert chosen.reason.endswith("work/proj/.python-version") and chosen.project == str(project)
    # PYENV_VERSION wins over .python-version, as in pyenv.
    found = run_detect(project, root=root, environ={**environ, "PYENV_VERSION": "3.11.7"})
    assert found.chosen is not None and found.chosen.name == "3.11.7" and "PYENV_VERSION" in found.chosen.reason


def test_pyenv_shim_resolved_to_system_python(tmp_path: Path) -> None:
    root = tmp_path / "root"
    fake_pyenv(root / "home/u/.pyenv", "3.12.1")
    touch_exe(root / "usr/bin/python3.11")
    (root / "usr/bin/python").symlink_to("python3.11")
    project = write(root / "work/proj/.python-version", "system\n").parent
    found = run_detect(project, root=root, environ={"PATH": "/home/u/.pyenv/shims:/usr/bin"})
    systems = by_kind(found, "system")
    assert [e.executable for e in systems][:1] == [str(root / "usr/bin/python")]
    assert systems[0].version == "3.11"
    assert all("shim" not in e.name for e in systems)  # the shim hands over to /usr/bin/python


def test_pipenv_env_in_workon_home(tmp_path: Path) -> None:
    root = tmp_path / "root"
    project = write(root / "work/my proj/Pipfile", '[packages]\nrequests = "*"\n').parent
    name = pipenv.env_name(project)
    assert name.startswith("my_proj-") and len(name[len("my_proj-") :]) == 8
    fake_venv(root / "home/u/.venvs" / name, "3.11.4", manager="virtualenv")
    found = run_detect(project, root=root, environ={"WORKON_HOME": "/home/u/.venvs"})
    chosen = found.chosen
    assert chosen is not None and chosen.kind == "pipenv" and chosen.name == name and chosen.version == "3.11.4"


def test_poetry_env_name_hash(tmp_path: Path) -> None:
    # Poetry lower-cases and normalises the name and hashes the real path of the project dir.
    project = tmp_path / "Proj"
    project.mkdir()
    import base64
    import hashlib
    import os

    digest = base64.urlsafe_b64encode(hashlib.sha256(os.path.realpath(project).encode()).digest()).decode()[:8]
    assert poetry.env_name("My_Project.Name", project) == f"my-project-name-{digest}"


def test_missing_project_env_is_listed_not_chosen(tmp_path: Path) -> None:
    root = tmp_path / "root"
    touch_exe(root / "usr/bin/python3.12")
    project = write(root / "work/proj/uv.lock", "version = 1\n").parent
    found = run_detect(project, root=root)
    missing = [e for e in found.envs if not e.exists]
    assert missing and missing[0].kind == "uv" and "run `uv sync`" in missing[0].reason
    assert found.chosen is not None and found.chosen.kind == "system"


def test_uv_workspace_member_uses_workspace_venv(tmp_path: Path) -> None:
    root = tmp_path / "root"
    ws = write(
        root / "work/ws/pyproject.toml", '[project]\nname = "ws"\n[tool.uv.workspace]\nmembers = ["packages/*"]\n'
    ).parent
    write(ws / "uv.lock", "version = 1\n")
    fake_venv(ws / ".venv", "3.12.3", manager="uv")
    member = write(ws / "packages/lib/pyproject.toml", '[project]\nname = "lib"\n').parent
    found = run_detect(member, root=root)
    assert found.chosen is not None and found.chosen.prefix == str(ws / ".venv")
    assert "member of the uv workspace" in found.chosen.reason


def test_broken_venv_is_not_chosen_but_reported(tmp_path: Path) -> None:
    root = tmp_path / "root"
    touch_exe(root / "usr/bin/python3.12")
    project = write(root / "work/proj/pyproject.toml", '[project]\nname = "p"\n').parent
    venv = fake_venv(project / ".venv", "3.12.1")
    (venv / "bin/python").unlink()
    (venv / "bin/python").symlink_to("/nonexistent/python3.12")
    found = run_detect(project, root=root)
    broken = next(e for e in found.envs if e.prefix == str(venv))
    assert broken.problem and "dangling" in broken.problem
    assert found.chosen is not None and found.chosen.prefix != str(venv)


def test_container_and_wsl_facts(tmp_path: Path) -> None:
    root = tmp_path / "root"
    write(root / ".dockerenv", "")
    write(root / "proc/1/cgroup", "0::/kubepods/besteffort/pod1234/abcd\n")
    write(root / "proc/sys/kernel/osrelease", "5.15.153.1-microsoft-standard-WSL2\n")
    write(root / "proc/sys/fs/binfmt_misc/WSLInterop", "enabled\n")
    (root / "mnt/c").mkdir(parents=True)
    project = write(root / "work/proj/pyproject.toml", '[project]\nname = "p"\n').parent
    found = run_detect(project, root=root, environ={"KUBERNETES_SERVICE_HOST": "10.0.0.1", "WSL_DISTRO_NAME": "Ubuntu"})
    assert found.platform["container"]["runtime"] == "kubernetes"
    assert "/.dockerenv" in found.platform["container"]["evidence"]
    assert found.platform["wsl"]["version"] == 2 and found.platform["wsl"]["distro"] == "Ubuntu"
    assert found.platform["wsl"]["windows_mounts"] is True
    bare = run_detect(project, root=tmp_path / "empty-root")
    assert bare.platform == {}


def test_podman_containerenv(tmp_path: Path) -> None:
    root = tmp_path / "root"
    write(root / "run/.containerenv", 'engine="podman-5.0.2"\nname="dev"\n')
    project = write(root / "work/proj/pyproject.toml", '[project]\nname = "p"\n').parent
    assert run_detect(project, root=root).platform["container"]["runtime"] == "podman"


def test_active_venv_outside_project_beats_system_not_project(tmp_path: Path) -> None:
    root = tmp_path / "root"
    touch_exe(root / "usr/bin/python3.12")
    fake_venv(root / "home/u/tools-venv", "3.12.2")
    project = write(root / "work/proj/pyproject.toml", '[project]\nname = "p"\n').parent
    found = run_detect(project, root=root, environ={"VIRTUAL_ENV": "/home/u/tools-venv"})
    assert found.chosen is not None and found.chosen.active and found.chosen.name == "tools-venv"
    fake_venv(project / ".venv", "3.12.2", manager="uv")
    write(project / "uv.lock", "version = 1\n")
    found = run_detect(project, root=root, environ={"VIRTUAL_ENV": "/home/u/tools-venv"})
    assert found.chosen is not None and found.chosen.prefix == str(project / ".venv")


def test_context_maps_system_paths_under_root(tmp_path: Path) -> None:
    ctx = Context(project=tmp_path, environ={"HOME": "/home/u"}, root=tmp_path / "r")
    assert ctx.sys("/opt/conda") == tmp_path / "r/opt/conda"
    assert ctx.sys("~/.pyenv") == tmp_path / "r/home/u/.pyenv"
    assert ctx.sys("relative/x") == Path("relative/x")


def test_poetry_virtualenvs_path_from_user_config_with_cache_dir_placeholder(tmp_path: Path) -> None:
    root = tmp_path / "root"
    project = write(root / "work/proj/pyproject.toml", '[tool.poetry]\nname = "Demo"\nversion = "0.1.0"\n').parent
    write(root / "home/u/.config/pypoetry/config.toml", '[virtualenvs]\npath = "{cache-dir}/envs"\n')
    name = poetry.env_name("Demo", project)
    fake_venv(root / f"home/u/.cache/pypoetry/envs/{name}-py3.11", "3.11.9", manager="virtualenv")
    fake_venv(root / f"home/u/.cache/pypoetry/envs/{name}-py3.12", "3.12.4", manager="virtualenv")
    found = run_detect(project, root=root)
    chosen = found.chosen
    assert chosen is not None and chosen.kind == "poetry" and chosen.name == f"{name}-py3.12"  # newest, no envs.toml
    write(root / "home/u/.cache/pypoetry/envs/envs.toml", f'[{name}]\nminor = "3.11"\npatch = "3.11.9"\n')
    found = run_detect(project, root=root)
    assert found.chosen is not None and found.chosen.name == f"{name}-py3.11" and "envs.toml" in found.chosen.reason


def test_pdm_pep582_packages_dir(tmp_path: Path) -> None:
    root = tmp_path / "root"
    touch_exe(root / "usr/bin/python3.12")
    project = write(root / "work/proj/pdm.lock", "# pdm lock\n").parent
    write(project / ".pdm-python", "/usr/bin/python3.12\n")
    (project / "__pypackages__/3.12/lib").mkdir(parents=True)
    found = run_detect(project, root=root)
    chosen = found.chosen
    assert chosen is not None and chosen.kind == "pdm" and chosen.name == "__pypackages__" and chosen.version == "3.12"


def test_hatch_named_env_selected_by_hatch_env(tmp_path: Path) -> None:
    root = tmp_path / "root"
    project = write(root / "work/proj/pyproject.toml", '[project]\nname = "Demo.Pkg"\n[tool.hatch.envs.test]\n').parent
    storage = root / "home/u/.local/share/hatch/env/virtual/demo-pkg" / hatch.project_id(project)
    fake_venv(storage / "demo-pkg", "3.12.1")
    fake_venv(storage / "test", "3.11.2")
    assert run_detect(project, root=root).chosen.name == "demo-pkg"  # type: ignore[union-attr]
    assert run_detect(project, root=root, environ={"HATCH_ENV": "test"}).chosen.name == "test"  # type: ignore[union-attr]


def test_disabled_detectors_are_not_run(tmp_path: Path) -> None:
    root = tmp_path / "root"
    fake_pyenv(root / "home/u/.pyenv", "3.12.1")
    touch_exe(root / "usr/bin/python3.12")
    project = write(root / "work/proj/pyproject.toml", '[project]\nname = "p"\n').parent
    found = run_detect(project, root=root, config={"env.disabled": ["pyenv", "system"]})
    assert found.envs == [] and found.chosen is None


def test_conda_env_without_python_is_reported(tmp_path: Path) -> None:
    root = tmp_path / "root"
    prefix = root / "home/u/miniforge3/envs/tools"
    (prefix / "conda-meta").mkdir(parents=True)
    (prefix / "conda-meta/history").write_text(
        "==> 2024 <==\n# cmd: /home/u/miniforge3/bin/mamba create -n tools git\n"
    )
    project = write(root / "work/proj/environment.yml", "name: tools\n").parent
    found = run_detect(project, root=root)
    env = next(e for e in found.envs if e.name == "tools")
    assert env.problem == "no python installed in this conda environment" and env.manager == "mamba" and not env.chosen
