"""Artifact checks on real built artifacts, then on damaged copies of them."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

import pytest

from helper.building import verify
from helper.errors import HelpError
from tests.building.conftest import help_json, package_name
from tests.conftest import run_help


@pytest.fixture
def built(backend_project, build_env) -> tuple[Path, Path]:
    root = backend_project("hatchling")
    data = help_json("build", cwd=root, env=build_env)
    paths = [Path(a["path"]) for a in data["artifacts"]]
    wheel = next(p for p in paths if p.suffix == ".whl")
    sdist = next(p for p in paths if p.name.endswith(".tar.gz"))
    return wheel, sdist


def rewrite_zip(source: Path, target: Path, change) -> Path:
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w") as dst:
        for info in src.infolist():
            data = change(info.filename, src.read(info.filename))
            if data is not None:
                dst.writestr(info, data)
    return target


def test_good_artifacts_pass(built):
    wheel, sdist = built
    assert verify.check(wheel, "demo-hatchling", "0.3.0")["version"] == "0.3.0"
    assert verify.check(sdist, "demo_hatchling", "0.3.0")["name"] == "demo-hatchling"


def test_tampered_wheel_fails_its_record(built, tmp_path):
    wheel, _ = built
    module = f"{package_name('hatchling')}/core.py"
    bad = rewrite_zip(wheel, tmp_path / wheel.name, lambda n, d: b"evil = 1\n" if n == module else d)
    with pytest.raises(HelpError, match="does not match RECORD"):
        verify.check_wheel(bad)
    extra = rewrite_zip(wheel, tmp_path / ("u-" + wheel.name), lambda n, d: d)
    with zipfile.ZipFile(extra, "a") as archive:
        archive.writestr("sneaky.py", "x = 1\n")
    with pytest.raises(HelpError, match="not listed in RECORD"):
        verify.check_wheel(extra)


def test_not_a_zip_and_wrong_metadata(built, tmp_path):
    wheel, _ = built
    junk = tmp_path / wheel.name
    junk.write_bytes(b"PK\x03\x04 this is not a zip")
    with pytest.raises(HelpError, match="not a valid zip"):
        verify.check_wheel(junk)
    with pytest.raises(HelpError, match=r"the project says 9\.9\.9"):
        verify.check(wheel, "demo-hatchling", "9.9.9")
    with pytest.raises(HelpError, match="names 'demo-hatchling'"):
        verify.check(wheel, "other-name", None)


def test_sdist_without_pyproject_fails(built, tmp_path):
    _, sdist = built
    bad = tmp_path / sdist.name
    with tarfile.open(sdist) as src, tarfile.open(bad, "w:gz") as dst:
        for member in src.getmembers():
            if member.name.endswith("/pyproject.toml"):
                continue
            handle = src.extractfile(member) if member.isfile() else None
            dst.addfile(member, io.BytesIO(handle.read()) if handle else None)
    with pytest.raises(HelpError, match=r"no pyproject\.toml"):
        verify.check_sdist(bad)


def test_corrupt_cached_artifact_is_evicted_and_rebuilt(backend_project, build_env):
    root = backend_project("hatchling")
    first = help_json("build", cwd=root, env=build_env)
    wheel = next(a for a in first["artifacts"] if a["name"].endswith(".whl"))
    blob = root / ".help" / "cache" / "cas" / wheel["sha256"][:2] / wheel["sha256"]
    blob.write_bytes(b"garbage")
    Path(wheel["path"]).unlink()
    result = run_help("build", "--json", cwd=root, env=build_env)
    assert result.returncode == 0, result.stderr
    assert "corrupt" in result.stderr
    import json

    again = json.loads(result.stdout)
    assert again["cached"] is False
    assert Path(wheel["path"]).is_file()
    verify.check_wheel(Path(wheel["path"]))
