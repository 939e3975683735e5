"""The stdlib PEP 440 / PEP 508 subset agrees with `packaging`, and the check finds real conflicts."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from helper.managers import envcheck
from tests.install.conftest import build_wheel

packaging_version = pytest.importorskip("packaging.version")
packaging_specifiers = pytest.importorskip("packaging.specifiers")
packaging_markers = pytest.importorskip("packaging.markers")

VERSIONS = [
    "0.9", "1.0", "1.0.0", "1.0.post1", "1.0a1", "1.0b2", "1.0rc1", "1.0.dev3", "1.0a1.dev1", "1.0+local.7",
    "1.0.1", "1.1", "1.1.dev0", "2.0", "2!0.5", "1.0-1", "1.0c1", "v1.2", "2.0.0.0", "1.0.post1.dev2",
]  # fmt: skip
SPECS = [
    ">=1.0", "<2", "<1.0", ">1.0", "<=1.0", "==1.0", "!=1.0", "==1.*", "!=1.0.*", "~=1.0", "~=1.0.0",
    ">=1.0,<2", "==1.0+local.7", ">1.0.post1", "<1.1", ">=1.0a1", "===1.0",
]  # fmt: skip


def test_version_order_matches_packaging() -> None:
    for a, b in itertools.product(VERSIONS, repeat=2):
        ours = (envcheck.Version(a) < envcheck.Version(b), envcheck.Version(a) == envcheck.Version(b))
        theirs = (
            packaging_version.Version(a) < packaging_version.Version(b),
            packaging_version.Version(a) == packaging_version.Version(b),
        )
        assert ours == theirs, (a, b)


def test_specifiers_match_packaging() -> None:
    for spec, version in itertools.product(SPECS, VERSIONS):
        expected = packaging_specifiers.SpecifierSet(spec).contains(version, prereleases=True)
        assert envcheck.specifier_contains(spec, version) == expected, (spec, version)


@pytest.mark.parametrize(
    "marker",
    [
        'python_version >= "3.8"',
        'python_version < "3"',
        'sys_platform == "linux" and os_name == "posix"',
        'sys_platform == "win32" or (python_version > "3.6" and platform_machine != "nope")',
        'extra == "test"',
        '"linux" in sys_platform',
        'implementation_name not in "pypy jython"',
    ],
)
def test_markers_match_packaging(marker: str) -> None:
    expected = packaging_markers.Marker(marker).evaluate({"extra": ""})
    assert envcheck.evaluate_marker(marker, envcheck.marker_environment("")) == expected


def test_requirement_parsing() -> None:
    req = envcheck.Requirement("Foo_Bar[fast, x] >=1.0,<2 ; python_version >= '3.8'")
    assert (req.key, req.extras, req.specifier, req.marker) == (
        "foo-bar",
        ["fast", "x"],
        ">=1.0,<2",
        "python_version >= '3.8'",
    )
    assert envcheck.Requirement("pkg @ https://example.invalid/pkg.whl").url == "https://example.invalid/pkg.whl"
    for bad in ("", ">=1", "pkg>>1", "pkg[extra"):
        with pytest.raises(ValueError):
            envcheck.Requirement(bad)


def test_check_in_a_real_environment_without_packaging(tmp_path: Path) -> None:
    """A venv with beta 1.0 (alpha<2) and alpha 2.0 installed by hand: the script names the conflict."""
    env = tmp_path / "env"
    venv.create(env, with_pip=False)
    site = next((env / "lib").glob("python*/site-packages"))
    import zipfile

    for name, version, requires in [
        ("alpha", "2.0", []),
        ("beta", "1.0", ["alpha<2", "delta; extra == 'x'"]),
        ("gamma", "1.0", ["alpha>=2", "missing"]),
    ]:
        with zipfile.ZipFile(build_wheel(tmp_path, name, version, requires)) as wheel:
            wheel.extractall(site)
    out = subprocess.run(
        [str(env / "bin" / "python"), "-I", envcheck.__file__], capture_output=True, text=True, check=True
    ).stdout
    report = json.loads(out)
    assert report["engine"] == "builtin"
    assert set(report["installed"]) == {"alpha", "beta", "gamma"}
    problems = {(p["package"], p["requires"], p["installed"]) for p in report["problems"]}
    assert problems == {("beta", "alpha<2", "2.0"), ("gamma", "missing", None)}
    beta = next(p for p in report["problems"] if p["package"] == "beta")
    assert beta["required_by"] == ["gamma (alpha>=2)"]
    assert sys.version_info >= (3, 8)
