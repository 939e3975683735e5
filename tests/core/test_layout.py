"""The shared primitives, one home each: environment layout, stat signatures, canonical names."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from helper import statsig
from helper.envs import layout
from helper.managers import envcheck
from helper.names import canonical


def test_layout_of_a_real_venv(tmp_path: Path) -> None:
    prefix = tmp_path / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(prefix)], check=True)
    python = layout.venv_python(prefix)
    assert python.exists()
    real = subprocess.run([str(python), "-c", "import sys, sysconfig; print(sys.prefix); print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.split("\n")  # fmt: skip
    assert os.path.realpath(real[0]) == os.path.realpath(prefix)
    assert [str(p) for p in layout.site_packages(prefix)] == [real[1]]
    (Path(real[1]) / "Zope.Interface-5.0.dist-info").mkdir()
    assert layout.dist_infos(prefix)[0][:2] == ("Zope.Interface", "5.0")
    assert layout.installed_versions(prefix) == {"zope-interface": "5.0"}
    assert layout.site_packages(tmp_path / "nothing") == [] and layout.installed_versions(tmp_path / "nothing") == {}


def test_stat_signature_changes_with_every_rewrite(tmp_path: Path) -> None:
    path = tmp_path / "f"
    assert statsig.stat_signature(path) is None
    path.write_text("one")
    first = statsig.stat_signature(path)
    other = tmp_path / "g"
    other.write_text("one")
    assert first is not None
    os.utime(other, ns=(first[0], first[0]))
    os.replace(other, path)  # same size, maybe same mtime: a new inode still tells it apart
    assert statsig.stat_signature(path) != first


def test_the_standalone_envcheck_names_as_the_core_does() -> None:
    for name in ("Foo_Bar", "foo.bar", "FOO--bar", "zope.interface", "a_-_.b"):
        assert envcheck.canonical(name) == canonical(name)


def test_copy_all_puts_every_file_in_place_or_none(tmp_path: Path) -> None:
    from helper.fsutil import atomic_copy_all

    sources = tmp_path / "built"
    sources.mkdir()
    (sources / "a.whl").write_text("new a")
    (sources / "b.tar.gz").write_text("new b")
    dist = tmp_path / "dist"
    missing = sources / "gone.whl"  # fails midway, as a Ctrl-C would
    with pytest.raises(FileNotFoundError):
        atomic_copy_all([(sources / "a.whl", dist / "a.whl"), (missing, dist / "gone.whl")])
    assert not dist.exists(), "the folder made for them is gone again"
    dist.mkdir()
    (dist / "a.whl").write_text("old a")
    with pytest.raises(FileNotFoundError):
        atomic_copy_all([(sources / "a.whl", dist / "a.whl"), (missing, dist / "gone.whl")])
    assert {p.name: p.read_text() for p in dist.iterdir()} == {"a.whl": "old a"}, "no temp file, old one kept"
    atomic_copy_all([(sources / "a.whl", dist / "a.whl"), (sources / "b.tar.gz", dist / "b.tar.gz")])
    assert {p.name: p.read_text() for p in dist.iterdir()} == {"a.whl": "new a", "b.tar.gz": "new b"}
