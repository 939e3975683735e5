"""The selector's pure parts: checksums, import graph, argument split, shard balance, state."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from helper.testing import checksums, discovery, envhash
from helper.testing.graph import ImportGraph
from helper.testing.inpytest import shard
from helper.testing.state import State

SOURCE = textwrap.dedent(
    """
    import os
    LIMIT = 3

    def first(x):
        return x + 1

    class Box:
        SIZE = 2

        def open(self):
            def inner():
                return LIMIT
            return inner()

        @property
        def size(self):
            return self.SIZE
    """
).encode()


def test_checksums_separate_functions_from_module_code() -> None:
    base = checksums.analyse(SOURCE)["sums"]
    assert set(base) == {"<module>", "<module>:LIMIT", "<outline>", "first", "Box.open", "Box.size"}
    body = checksums.analyse(SOURCE.replace(b"return x + 1", b"return x + 2"))["sums"]
    assert {k for k in base if base[k] != body[k]} == {"first"}
    constant = checksums.analyse(SOURCE.replace(b"LIMIT = 3", b"LIMIT = 4"))["sums"]
    assert {k for k in base if base[k] != constant[k]} == {"<module>:LIMIT", "<outline>"}
    class_attr = checksums.analyse(SOURCE.replace(b"SIZE = 2", b"SIZE = 5"))["sums"]
    assert {k for k in base if base[k] != class_attr[k]} == {"<module>"}, "a class body is not in the outline"
    base_class = checksums.analyse(SOURCE.replace(b"class Box:", b"class Box(dict):"))["sums"]
    assert {k for k in base if base[k] != base_class[k]} == {"<module>", "<outline>"}
    nested = checksums.analyse(SOURCE.replace(b"return LIMIT", b"return LIMIT * 2"))["sums"]
    assert {k for k in base if base[k] != nested[k]} == {"Box.open"}
    comment = checksums.analyse(SOURCE.replace(b"def first(x):", b"# note\ndef first(x):  # why"))["sums"]
    assert comment == base


def test_names_used_are_kept_for_constants() -> None:
    uses = checksums.analyse(SOURCE)["uses"]
    assert "LIMIT" in uses["Box.open"] and "LIMIT" not in uses["first"]
    source = b"from x import *\nA = 1\nB = A + 1\n\ndef f():\n    return getattr(m, 'B')\n"
    found = checksums.analyse(source)
    assert found["uses"]["<module>:B"] == ["A"] and "B" in found["uses"]["f"] and "__all__" in found["uses"]["<module>"]
    renamed = checksums.analyse(source.replace(b"B = A + 1", b"C = A + 1"))["sums"]
    assert renamed["<module>"] != found["sums"]["<module>"], "adding or removing a top-level name counts for everyone"


def test_new_function_changes_module_entry() -> None:
    base = checksums.analyse(SOURCE)["sums"]
    added = checksums.analyse(SOURCE + b"\ndef second():\n    return 2\n")["sums"]
    assert added["<module>"] != base["<module>"] and added["first"] == base["first"]


def test_unit_of_maps_nested_code_to_its_function() -> None:
    sums = checksums.analyse(SOURCE)["sums"]
    assert checksums.unit_of("Box.open.<locals>.inner", sums) == "Box.open"
    assert checksums.unit_of("first.<locals>.<listcomp>", sums) == "first"
    assert checksums.unit_of("Box", sums) == "<module>"
    assert checksums.unit_of("<module>", sums) == "<module>"


def test_syntax_error_is_one_unit() -> None:
    broken = checksums.analyse(b"def f(:\n")
    assert list(broken["sums"]) == ["<module>"] and broken["imports"] == []


def test_store_survives_a_corrupt_file(tmp_path: Path) -> None:
    path = tmp_path / "sums.json"
    path.write_text("{not json")
    source = tmp_path / "m.py"
    source.write_bytes(SOURCE)
    store = checksums.Store(path)
    assert "first" in store.get("abc", source)["sums"]
    store.save()
    assert "abc" in json.loads(path.read_text())


def test_import_graph_resolves_absolute_relative_and_src_layout() -> None:
    files = {
        "src/pkg/__init__.py": [],
        "src/pkg/a.py": [["b", 1, []], ["", 1, ["c"]]],
        "src/pkg/b.py": [["os", 0, []]],
        "src/pkg/c.py": [["pkg.sub.d", 0, []]],
        "src/pkg/sub/__init__.py": [],
        "src/pkg/sub/d.py": [],
        "tests/test_a.py": [["pkg", 0, ["a"]]],
        "tests/helpers.py": [],
        "tests/test_b.py": [["helpers", 0, []]],
    }
    graph = ImportGraph(files, lambda rel: files[rel])
    assert graph.closure("tests/test_a.py") == {
        "tests/test_a.py",
        "src/pkg/__init__.py",
        "src/pkg/a.py",
        "src/pkg/b.py",
        "src/pkg/c.py",
        "src/pkg/sub/__init__.py",
        "src/pkg/sub/d.py",
    }
    assert graph.closure("tests/test_b.py") == {"tests/test_b.py", "tests/helpers.py"}


def test_split_args_keeps_paths_and_outcome_changing_options() -> None:
    paths, relevant, fast = envhash.split_args(["-q", "-p", "no:cacheprovider", "tests/core"])
    assert paths == ["tests/core"] and relevant == [] and fast
    paths, relevant, fast = envhash.split_args(["-n", "2", "-x", "-W", "error", "--runslow"])
    assert paths == [] and relevant == ["-W", "error", "--runslow"] and not fast
    paths, relevant, fast = envhash.split_args(["-k", "parser", "tests"])
    assert paths == ["tests"] and relevant == [] and not fast, "-k needs pytest to match names"


def test_exclusions_keep_the_fast_path_and_leave_the_environment_alone() -> None:
    args = ["--ignore", "tests/slow", "--ignore-glob=*_gen.py", "--deselect", "tests/test_a.py::test_x", "-q"]
    paths, relevant, fast = envhash.split_args(args)
    assert paths == [] and relevant == [] and fast, "help.py applies these itself"
    assert envhash.exclusions(args) == {
        "--ignore": ["tests/slow"],
        "--ignore-glob": ["*_gen.py"],
        "--deselect": ["tests/test_a.py::test_x"],
    }


def test_ignored_paths_and_globs_as_pytest_reads_them(tmp_path: Path) -> None:
    assert discovery.ignored("tests/slow/test_a.py", ["tests/slow"], [], tmp_path)
    assert not discovery.ignored("tests/slower/test_a.py", ["tests/slow"], [], tmp_path)
    assert discovery.ignored("tests/test_api_gen.py", [], ["*_gen.py"], tmp_path), "a name pattern"
    assert discovery.ignored("tests/data/ex/vimrc", [], ["tests/data/*"], tmp_path), "a path pattern, folders count"
    assert not discovery.ignored("tests/test_api.py", [], ["*_gen.py", "other/*"], tmp_path)


def test_shard_longest_first_onto_lightest() -> None:
    durations = {"a": 8.0, "b": 7.0, "c": 6.0, "d": 5.0, "e": 4.0, "f": 1.0}
    assignment = shard.assign(durations, durations, 2)
    loads = shard.loads(assignment, durations, 2)
    assert loads == [17.0, 14.0]  # 8+5+4 | 7+6+1, as longest-first onto the lightest gives
    assert max(loads) - min(loads) <= max(durations.values())
    # Every shard computes the same split; together they cover each test exactly once.
    assert shard.assign(list(reversed(list(durations))), durations, 2) == assignment
    three = shard.assign(durations, durations, 3)
    assert set(three.values()) == {1, 2, 3} and set(three) == set(durations)


def test_shard_parse() -> None:
    assert shard.parse("2/4") == (2, 4)
    for bad in ("0/2", "3/2", "x", "1/0"):
        try:
            shard.parse(bad)
        except ValueError:
            continue
        raise AssertionError(bad)


def test_state_keeps_a_few_variants_and_drops_orphans(tmp_path: Path) -> None:
    state = State(tmp_path / "state.json")
    for n in range(6):
        sid = state.add_set([f"dep{n}"])
        state.remember_test("t::a", "t.py", sid, "passed", 0.1)
        state.remember_file("t.py", {"collect": sid, "key": str(n), "ids": ["t::a"]})
    state.tests["t::gone"] = {"variants": [], "file": "t.py"}
    state.save()
    again = State(tmp_path / "state.json")
    assert len(again.tests["t::a"]["variants"]) == 4 and len(again.files["t.py"]) == 4
    assert "t::gone" not in again.tests
    (tmp_path / "state.json").write_text("garbage")
    assert State(tmp_path / "state.json").tests == {}


def test_functions_run_at_import_belong_to_the_module_entry() -> None:
    source = textwrap.dedent(
        """\
        def helper(n):
            return _inner(n)

        def _inner(n):
            return n

        def later():
            return 1

        class K:
            def _make(x):
                return x

            table = _make(helper(2))
        """
    )
    before = checksums.analyse(source.encode())
    inner = checksums.analyse(source.replace("return n\n", "return n + 1\n").encode())
    in_class = checksums.analyse(source.replace("return x\n", "return [x]\n").encode())
    later = checksums.analyse(source.replace("return 1\n", "return 2\n").encode())
    assert inner["sums"][checksums.MODULE] != before["sums"][checksums.MODULE]  # reached through helper
    assert in_class["sums"][checksums.MODULE] != before["sums"][checksums.MODULE]
    assert later["sums"][checksums.MODULE] == before["sums"][checksums.MODULE]  # never run at import
    assert later["sums"]["later"] != before["sums"]["later"]


def test_tree_text_ignores_positions_and_contexts_but_nothing_else() -> None:
    import ast

    def dump(source: str, **options: bool) -> str:
        return checksums._dump(ast.parse(textwrap.dedent(source)), **options)

    code = "def f(x, n=2):\n    return g(x)[n]\n"
    assert dump(code) == dump("\n\n# moved down\n" + code.replace("(x)", "( x )"))
    for changed in ("n=3", "return g(x)[n] + 0", "return h(x)[n]", "return g(x, n)", "return g(x)['n']"):
        edited = code.replace("n=2", changed) if changed == "n=3" else code.replace("return g(x)[n]", changed)
        assert dump(edited) != dump(code), changed
    assert dump("x = 'a'") != dump("x = a") != dump("x = 1") != dump("x = '1'")
    nested = "def outer(k=1):\n    def inner(j=2):\n        return j\n    return inner\n"
    body = ast.parse(nested).body[0].body  # type: ignore[attr-defined]
    stubbed = checksums._dump(ast.Module(body=body, type_ignores=[]), stub_nested=True)
    edited_body = ast.parse(nested.replace("return j", "return j + 1")).body[0].body  # type: ignore[attr-defined]
    edited_default = ast.parse(nested.replace("j=2", "j=3")).body[0].body  # type: ignore[attr-defined]
    assert checksums._dump(ast.Module(body=edited_body, type_ignores=[]), stub_nested=True) == stubbed
    assert checksums._dump(ast.Module(body=edited_default, type_ignores=[]), stub_nested=True) != stubbed


def test_fast_walkers_agree_with_ast_walk() -> None:
    import ast

    from helper.testing.inpytest import units

    tree = ast.parse(
        SOURCE.decode() + "\nTABLE = {'root': [(r'x', Name.Builtin, 'pop')], 'k': getattr(obj, 'attr_name')}\n"
    )
    for node in ast.walk(tree):
        assert units.children(node) == list(ast.iter_child_nodes(node))
    walked = list(ast.walk(tree))
    expected = {n.id for n in walked if isinstance(n, ast.Name)} | {
        n.attr for n in walked if isinstance(n, ast.Attribute)
    }
    assert units.names(tree) == expected
    strings = {
        n.value for n in walked if isinstance(n, ast.Constant) and isinstance(n.value, str) and n.value.isidentifier()
    }
    assert units.names(tree, strings=True) == expected | strings
    assert {"Name", "Builtin", "getattr", "obj", "LIMIT"} <= expected and "attr_name" in strings


def test_loaders_are_functions_importing_by_computed_name_and_their_callers() -> None:
    source = textwrap.dedent(
        """\
        import importlib

        def load(name):
            return importlib.import_module("pkg." + name)

        def find(name):
            return load(name)

        def fixed():
            return importlib.import_module("json")

        def unrelated():
            return 0
        """
    )
    assert checksums.analyse(source.encode())["loaders"] == ["find", "load"]


def _hasher(root: Path) -> Any:
    from helper.fingerprint import Fingerprinter
    from helper.testing.deps import Hasher

    return Hasher(root, Fingerprinter(root, root / ".state" / "fp.json"), checksums.Store(root / ".state" / "cs.json"))


def _wait_for(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 30
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)


def test_warmer_analyses_the_modules_pytest_announces_as_they_come(tmp_path: Path) -> None:
    from helper.testing.warm import Warmer

    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "mod.py").write_bytes(SOURCE)
    (tmp_path / "pkg" / "other.py").write_text("import pkg.mod\nVALUE = 1\n")
    (tmp_path / "pkg" / "unused.py").write_text("VALUE = 2\n")  # imported by no test: never analysed
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    controller, worker = run_dir / "imports-1.txt", run_dir / "imports-2.txt"
    controller.write_text("pkg/mod.py\npkg/oth")  # the second line is still being written
    hasher = _hasher(tmp_path)
    warmer = Warmer(hasher, run_dir).start()
    _wait_for(lambda: warmer.done >= 1)
    assert set(hasher._analyses) == {"pkg/mod.py"}
    with controller.open("a") as handle:
        handle.write("er.py\n")
    worker.write_text("pkg/mod.py\npkg/other.py\n")  # an xdist worker imports them too: analysed once
    _wait_for(lambda: warmer.done >= 2)
    time.sleep(0.2)
    warmer.stop()
    assert warmer.done == 2
    assert set(hasher._analyses) == {"pkg/mod.py", "pkg/other.py"}
    assert "first" in hasher.analysis("pkg/mod.py")["sums"]


def test_warmer_brings_in_the_whole_package_of_a_module_that_imports_by_name(tmp_path: Path) -> None:
    from helper.testing.warm import Warmer

    (tmp_path / "plugins" / "extra").mkdir(parents=True)
    (tmp_path / "plugins" / "__init__.py").write_text(
        "import importlib\n\ndef load(name):\n    return importlib.import_module('plugins.' + name)\n"
    )
    (tmp_path / "plugins" / "one.py").write_text("ONE = 1\n")
    (tmp_path / "plugins" / "extra" / "two.py").write_text("TWO = 2\n")
    (tmp_path / "other.py").write_text("OTHER = 3\n")  # outside the package: not needed
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "imports-1.txt").write_text("plugins/__init__.py\n")
    hasher = _hasher(tmp_path)
    warmer = Warmer(hasher, run_dir).start()
    _wait_for(lambda: warmer.done >= 3)
    warmer.stop()
    assert set(hasher._analyses) == {"plugins/__init__.py", "plugins/one.py", "plugins/extra/two.py"}
    assert hasher.package_files("plugins") == ["plugins/__init__.py", "plugins/extra/two.py", "plugins/one.py"]
    (tmp_path / ".venv" / "lib").mkdir(parents=True)
    (tmp_path / ".venv" / "lib" / "site.py").write_text("")
    (tmp_path / "plugins" / ".hidden").mkdir()
    (tmp_path / "plugins" / ".hidden" / "x.py").write_text("")
    assert hasher.package_files("") == ["other.py"]  # at the root its own files: never a venv, tests, packages
    assert "plugins/.hidden/x.py" not in hasher.package_files("plugins")


def test_warmer_stops_at_once_and_swallows_its_errors(tmp_path: Path) -> None:
    from helper.testing.warm import Warmer

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "imports-1.txt").write_text("gone.py\n")  # the file vanished: analysing it must not raise
    hasher = _hasher(tmp_path)
    warmer = Warmer(hasher, run_dir).start()
    started = time.monotonic()
    _wait_for(lambda: warmer.done >= 1)
    warmer.stop()
    assert time.monotonic() - started < 10 and warmer.done == 1
    Warmer(hasher, tmp_path / "no-such-run").start().stop()  # nothing raised in the caller


def test_the_recorder_announces_each_project_module_it_sees_start(tmp_path: Path) -> None:
    """Imported before the plugin (conftest.py's imports), at collection, during a test: each named once per line."""
    from helper.testing import runner

    root = tmp_path / "project"
    (root / "pkg").mkdir(parents=True)
    (root / "tests").mkdir()
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "early.py").write_text("EARLY = 1\n")
    (root / "pkg" / "used.py").write_text("def f():\n    return 1\n")
    (root / "pkg" / "late.py").write_text("LATE = 3\n")
    (root / "pkg" / "never.py").write_text("NEVER = 4\n")
    (root / "conftest.py").write_text("import pkg.early\n")
    (root / "tests" / "test_a.py").write_text(
        "from pkg.used import f\n\ndef test_a():\n    import pkg.late\n    assert f() == 1\n"
    )
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    plugin_dir = runner.prepare_plugin(tmp_path / "state")
    control = {"root": str(root), "exclude": [], "record_dir": str(run_dir), "deselect": []}
    runner.write_control(run_dir / "control.json", control)
    env = {**os.environ, "PYTHONPATH": str(plugin_dir), "HELPY_TEST_CONTROL": str(run_dir / "control.json")}
    done = subprocess.run(
        runner.command(Path(sys.executable), ["-q", "-p", "no:cacheprovider"]),
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    (announced,) = run_dir.glob("imports-*.txt")
    lines = announced.read_text().splitlines()
    expected = {"conftest.py", "pkg/__init__.py", "pkg/early.py", "pkg/used.py", "pkg/late.py", "tests/test_a.py"}
    assert set(lines) == expected, lines
    assert lines.index("pkg/used.py") < lines.index("pkg/late.py")  # in the order they started
