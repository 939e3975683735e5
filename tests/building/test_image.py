"""`build image` with real podman, from a local base image (nothing can be pulled here)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
from collections.abc import Iterator

import pytest

from tests.building.conftest import help_json
from tests.conftest import git, need_tool, run_help, write


@pytest.fixture(scope="session")
def base_image(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A tiny busybox image made with `podman import`, removed afterwards."""
    podman = need_tool("podman", "apt-get install podman runc uidmap slirp4netns")
    busybox = need_tool("busybox", "apt-get install busybox-static")
    rootfs = tmp_path_factory.mktemp("rootfs")
    (rootfs / "bin").mkdir()
    shutil.copy2(busybox, rootfs / "bin" / "busybox")
    for tool in ("sh", "echo", "cat", "false"):
        os.symlink("busybox", rootfs / "bin" / tool)
    archive = rootfs.parent / "rootfs.tar"
    with tarfile.open(archive, "w") as tar:
        tar.add(rootfs, arcname=".")
    name = f"localhost/help-build-test-base:{os.getpid()}"
    subprocess.run([podman, "import", str(archive), name], check=True, capture_output=True, timeout=120)
    yield name
    subprocess.run([podman, "rmi", "-f", name], capture_output=True, timeout=120)


def remove_images(*refs: str) -> None:
    subprocess.run(["podman", "rmi", "-f", *refs], capture_output=True, timeout=120)


def test_image_is_built_and_tagged_with_version_and_sha(backend_project, build_env, base_image):
    root = backend_project("hatchling")
    write(
        root / "Containerfile", f"FROM {base_image}\nCOPY README.md /app/README.md\nRUN echo built > /app/built.txt\n"
    )
    git(root, "add", "Containerfile")
    git(root, "commit", "-qm", "image")
    sha = git(root, "rev-parse", "--short=12", "HEAD").strip()
    data = help_json("build", "image", cwd=root, env=build_env)
    tags = ["demo-hatchling:0.3.0", f"demo-hatchling:{sha}"]
    try:
        assert data["engine"] == "podman" and data["tags"] == tags
        for tag in tags:
            inspect = subprocess.run(["podman", "image", "exists", f"localhost/{tag}"], timeout=60)
            assert inspect.returncode == 0, tag
        out = subprocess.run(
            ["podman", "run", "--rm", f"localhost/{tags[0]}", "cat", "/app/built.txt", "/app/README.md"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert out.stdout.startswith("built\n# demo"), out.stderr
    finally:
        remove_images(*(f"localhost/{t}" for t in tags))


def test_dockerfile_is_used_and_a_failing_build_is_reported(backend_project, build_env, base_image):
    root = backend_project("hatchling")
    write(root / "Dockerfile", f"FROM {base_image}\nRUN false\n")
    env = {**build_env, "HELP_BUILD__IMAGE": "help-build-failing"}
    result = run_help("build", "image", cwd=root, env=env)
    assert result.returncode == 1
    assert "podman build failed" in result.stderr and "run with -v" in result.stderr


def test_no_engine_that_can_build_is_a_clear_error(backend_project, build_env, tmp_path):
    root = backend_project("hatchling")
    write(root / "Containerfile", "FROM scratch\n")
    # Only git on PATH: neither podman nor docker.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    os.symlink(shutil.which("git") or "/usr/bin/git", bin_dir / "git")
    result = run_help("build", "image", cwd=root, env={**build_env, "PATH": str(bin_dir)})
    assert result.returncode == 1
    assert "no container engine can build here: podman is not installed; docker is not installed" in result.stderr
    assert "install podman" in result.stderr
    # A docker client without a daemon is named as such.
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "info"], capture_output=True, timeout=60).returncode != 0:
        os.symlink(docker, bin_dir / "docker")
        result = run_help(
            "build", "image", cwd=root, env={**build_env, "PATH": str(bin_dir), "HELP_BUILD__ENGINE": "docker"}
        )
        assert result.returncode == 1
        assert "no container engine can build here: docker cannot build (" in result.stderr


def test_missing_containerfile_and_wrong_flags(backend_project, build_env):
    root = backend_project("hatchling")
    result = run_help("build", "image", cwd=root, env=build_env)
    assert result.returncode == 1
    assert "no Containerfile or Dockerfile" in result.stderr
    result = run_help("build", "image", "--bump", "patch", cwd=root, env=build_env)
    assert result.returncode == 2
    assert "`build image` does not take --bump" in result.stderr
    assert "0.3.0" in (root / "pyproject.toml").read_text()
