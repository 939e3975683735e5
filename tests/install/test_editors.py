"""Format-preserving edits of pyproject.toml arrays, requirements files and environment.yml."""

from __future__ import annotations

import tomllib

import pytest

from helper.errors import HelpError
from helper.managers import envyaml, reqfile, tomledit

PYPROJECT = """# top comment
[project]
name = "x"  # name
dependencies = [
    "alpha>=1",  # keep me
    # a comment line
    "beta",
]
version = "1"

[tool.other]
a = 1  # untouched
"""


def _is(text: str, table: list[str], key: str, expected: list[str]) -> None:
    node = tomllib.loads(text)
    for part in [*table, key]:
        node = node[part]
    assert node == expected


def test_add_and_remove_keep_every_other_byte() -> None:
    added, changed = tomledit.edit_array(PYPROJECT, ["project"], "dependencies", add="gamma")
    assert changed
    assert added == PYPROJECT.replace('    "beta",\n', '    "beta",\n    "gamma",\n')
    removed, _ = tomledit.edit_array(added, ["project"], "dependencies", remove_if=lambda v: v == "beta")
    assert removed == PYPROJECT.replace('    "beta",\n', '    "gamma",\n')


def test_replace_in_place_and_no_change_when_equal() -> None:
    new, changed = tomledit.edit_array(
        PYPROJECT, ["project"], "dependencies", add="alpha>=2", replace_if=lambda v: v.startswith("alpha")
    )
    assert changed and '"alpha>=2",  # keep me' in new
    same, changed = tomledit.edit_array(
        new, ["project"], "dependencies", add="alpha>=2", replace_if=lambda v: v.startswith("alpha")
    )
    assert not changed and same == new


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[project]\ndependencies = ["a", "b"]\n', '[project]\ndependencies = ["a", "b", "c"]\n'),
        ("[project]\ndependencies = []\n", '[project]\ndependencies = ["c"]\n'),
        ("[project]\ndependencies = [\n]\n", '[project]\ndependencies = [\n    "c",\n]\n'),
        ('[project]\ndependencies = ["a",\n  "b"]\n', '[project]\ndependencies = ["a",\n  "b",\n  "c"]\n'),
        ("[project]\ndependencies = ['a']  # literal\n", "[project]\ndependencies = ['a', \"c\"]  # literal\n"),
    ],
)
def test_array_shapes(text: str, expected: str) -> None:
    assert tomledit.edit_array(text, ["project"], "dependencies", add="c")[0] == expected


def test_missing_key_and_table_are_created() -> None:
    new, _ = tomledit.edit_array(PYPROJECT, ["dependency-groups"], "dev", add="pytest")
    assert new.startswith(PYPROJECT)
    _is(new, ["dependency-groups"], "dev", ["pytest"])
    new2, _ = tomledit.edit_array(new, ["project", "optional-dependencies"], "fast", add="orjson")
    _is(new2, ["project", "optional-dependencies"], "fast", ["orjson"])
    new3, _ = tomledit.edit_array('[project]\nname = "x"\n\n[tool.x]\ny = 1\n', ["project"], "dependencies", add="a")
    assert new3 == '[project]\nname = "x"\ndependencies = [\n    "a",\n]\n\n[tool.x]\ny = 1\n'


def test_inline_removal_and_groups_with_tables() -> None:
    text = '[dependency-groups]\ndev = ["a", {include-group = "test"}, "b"]\ntest = ["c"]\n'
    new, _ = tomledit.edit_array(text, ["dependency-groups"], "dev", remove_if=lambda v: v == "a")
    assert new == '[dependency-groups]\ndev = [{include-group = "test"}, "b"]\ntest = ["c"]\n'
    new, _ = tomledit.edit_array(text, ["dependency-groups"], "dev", remove_if=lambda v: v == "b")
    assert new == '[dependency-groups]\ndev = ["a", {include-group = "test"}]\ntest = ["c"]\n'


def test_unusual_layouts_are_refused_not_damaged() -> None:
    with pytest.raises(HelpError, match="not valid TOML"):
        tomledit.edit_array("[project\n", ["project"], "dependencies", add="a")
    with pytest.raises(HelpError, match="not written as an array"):
        tomledit.edit_array('[project]\ndependencies = "a"\n', ["project"], "dependencies", add="b")


def test_requirements_file_edits() -> None:
    text = "# pinned\n-r base.txt\nalpha==1.0  # why\nBeta_Pkg>=2\n"
    new, _ = reqfile.add(text, "alpha==2.0", "alpha")
    assert new == "# pinned\n-r base.txt\nalpha==2.0  # why\nBeta_Pkg>=2\n"
    new, _ = reqfile.add(text, "gamma", "gamma")
    assert new == text + "gamma\n"
    assert reqfile.add("alpha", "beta", "beta")[0] == "alpha\nbeta\n"
    new, changed = reqfile.remove(text, "beta-pkg")
    assert changed and new == "# pinned\n-r base.txt\nalpha==1.0  # why\n"
    assert reqfile.requirements(text) == ["alpha==1.0", "Beta_Pkg>=2"]


ENV = """name: demo  # the env
channels:
  - conda-forge
dependencies:
  - python=3.11  # interpreter
  - numpy>=1.26
  # a comment
  - pip
  - pip:
    - requests
variables:
  X: "1"
"""


def test_environment_yml_edits() -> None:
    assert envyaml.items(ENV) == ["python=3.11", "numpy>=1.26", "pip"]
    new, _ = envyaml.add(ENV, "scipy>=1.11")
    assert new == ENV.replace("  - pip\n  - pip:", "  - pip\n  - scipy>=1.11\n  - pip:")
    new, _ = envyaml.add(ENV, "numpy>=2")
    assert new == ENV.replace("numpy>=1.26", "numpy>=2")
    new, _ = envyaml.remove(ENV, "requests")
    assert new == ENV.replace("    - requests\n", "")
    new, _ = envyaml.remove(ENV, "numpy")
    assert new == ENV.replace("  - numpy>=1.26\n", "")
    assert envyaml.add("name: x\n", "numpy")[0] == "name: x\ndependencies:\n  - numpy\n"
    with pytest.raises(HelpError, match="tab"):
        envyaml.add("dependencies:\n\t- numpy\n", "scipy")
    with pytest.raises(HelpError, match="block list"):
        envyaml.add("dependencies: [numpy]\n", "scipy")
