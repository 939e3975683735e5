"""Programs reached through symlinks that live outside the sandbox's view still start, with nothing more shown.

A venv made by a `python` that is itself a symlink in a temp dir (a PATH of links, as a fresh-clone check or a
~/bin link makes) points its bin/python at that link: inside the sandbox /tmp is private, so the chain broke.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.sandbox.conftest import PACKAGES, need_tool, sandbox_api


def test_a_venv_whose_python_links_through_a_hidden_folder_runs(tmp_path: Path) -> None:
    need_tool("bwrap", PACKAGES["bwrap"])
    links = tmp_path / "links"
    links.mkdir()
    (links / "python").symlink_to(os.path.realpath(sys.executable))
    project = tmp_path / "project"
    project.mkdir()
    subprocess.run([str(links / "python"), "-m", "venv", "--without-pip", str(project / ".venv")], check=True)
    assert os.readlink(project / ".venv" / "bin" / "python") == str(links / "python")
    (links / "secret.txt").write_text("not given")
    sandbox = sandbox_api()
    script = "import sys, os; print(sys.prefix); print(os.path.exists(sys.argv[1]))"
    result = sandbox.run(
        [str(project / ".venv" / "bin" / "python"), "-c", script, str(links / "secret.txt")],
        sandbox.Policy(workdir=project, readonly=[project]),
        backend="bwrap",
    )
    assert result.exit_code == 0, result.stderr
    prefix, secret_seen = result.stdout.split()
    assert prefix == str(project / ".venv")  # still the venv, not its base interpreter
    assert secret_seen == "False"  # only the link itself was recreated, not the folder it sits in


def test_backend_binaries_are_named_by_their_real_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = need_tool("bwrap", PACKAGES["bwrap"])
    (tmp_path / "bwrap").symlink_to(os.path.realpath(real))
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    from plugins.sandbox import backends

    assert backends.binary("bwrap") == os.path.realpath(real)  # a path a container's view also has
