"""The selector on real git repositories: after each kind of edit, every test that fails
under a full run must be among the tests help.py selects, and the rest come from the cache."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Callable

from tests.testing.conftest import Sample, cached, failing, ran

FILES = {
    "shop/__init__.py": "",
    "shop/prices.py": """
        TAX = 20

        def net(amount):
            return amount

        def gross(amount):
            return amount + amount * TAX // 100

        def discount(amount, percent):
            return amount - amount * percent // 100
    """,
    "shop/cart.py": """
        from shop.prices import gross

        class Cart:
            def __init__(self):
                self.items = []

            def add(self, price):
                self.items.append(price)

            def total(self):
                return sum(gross(p) for p in self.items)
    """,
    "data/rates.txt": "3\n",
    "tests/conftest.py": """
        import pytest

        @pytest.fixture
        def base():
            return 100
    """,
    "tests/test_prices.py": """
        from shop.prices import net, gross, discount

        def test_net():
            assert net(10) == 10

        def test_gross():
            assert gross(100) == 120

        def test_discount():
            assert discount(200, 50) == 100
    """,
    "tests/test_cart.py": """
        from shop.cart import Cart

        def test_empty():
            assert Cart().total() == 0

        def test_total(base):
            cart = Cart()
            cart.add(base)
            assert cart.total() == 120
    """,
    "tests/test_data.py": """
        import pathlib

        ROOT = pathlib.Path(__file__).resolve().parents[1]

        def test_rates():
            assert (ROOT / "data" / "rates.txt").read_text().strip() == "3"

        def test_plain():
            assert 1 + 1 == 2
    """,
}
ALL = {
    "tests/test_prices.py::test_net",
    "tests/test_prices.py::test_gross",
    "tests/test_prices.py::test_discount",
    "tests/test_cart.py::test_empty",
    "tests/test_cart.py::test_total",
    "tests/test_data.py::test_rates",
    "tests/test_data.py::test_plain",
}


def _baseline(sample: Callable[[dict[str, str]], Sample]) -> Sample:
    project = sample(FILES)
    first = project.test()
    assert first["returncode"] == 0, first["stderr"]
    assert ran(first) == ALL and first["pytest_started"]
    again = project.test()
    assert again["returncode"] == 0 and ran(again) == set() and cached(again) == ALL
    assert not again["pytest_started"], "an unchanged tree must be answered without starting pytest"
    return project


def _check(project: Sample) -> tuple[set[str], set[str]]:
    """Selective run, then the truth from a full run: failures must be a subset of the selection."""
    selective = project.test()
    full = project.test("--all")
    assert {t["id"] for t in full["tests"]} >= ran(selective)
    assert failing(full) <= ran(selective), f"missed failures: {failing(full) - ran(selective)}"
    assert failing(selective) == failing(full)
    assert selective["returncode"] == (1 if failing(full) else 0)
    return ran(selective), failing(full)


def test_edit_one_function_reselects_only_its_tests(sample: Callable[[dict[str, str]], Sample]) -> None:
    project = _baseline(sample)
    project.replace("shop/prices.py", "return amount - amount * percent // 100", "return amount - percent")
    selected, failed = _check(project)
    assert failed == {"tests/test_prices.py::test_discount"}
    assert selected == {"tests/test_prices.py::test_discount"}


def test_comment_and_formatting_change_selects_nothing(sample: Callable[[dict[str, str]], Sample]) -> None:
    project = _baseline(sample)
    project.replace(
        "shop/prices.py",
        "def net(amount):\n    return amount",
        "def net(amount):\n    # the amount as is\n    return (amount)",
    )
    report = project.test()
    assert ran(report) == set() and cached(report) == ALL


def test_module_level_constant(sample: Callable[[dict[str, str]], Sample]) -> None:
    project = _baseline(sample)
    project.replace("shop/prices.py", "TAX = 20", "TAX = 25")
    selected, failed = _check(project)
    assert failed == {"tests/test_prices.py::test_gross", "tests/test_cart.py::test_total"}
    assert "tests/test_data.py::test_plain" not in selected


def test_conftest_fixture(sample: Callable[[dict[str, str]], Sample]) -> None:
    project = _baseline(sample)
    project.replace("tests/conftest.py", "return 100", "return 50")
    selected, failed = _check(project)
    assert failed == {"tests/test_cart.py::test_total"}
    assert selected == ALL, "a conftest.py counts whole for every test below it"


def test_data_file_read_by_a_test(sample: Callable[[dict[str, str]], Sample]) -> None:
    project = _baseline(sample)
    (project.root / "data" / "rates.txt").write_text("4\n")
    selected, failed = _check(project)
    assert failed == {"tests/test_data.py::test_rates"}
    assert selected == {"tests/test_data.py::test_rates"}


def test_renamed_test(sample: Callable[[dict[str, str]], Sample]) -> None:
    project = _baseline(sample)
    project.replace(
        "tests/test_data.py", "def test_plain():\n    assert 1 + 1 == 2", "def test_sum():\n    assert 1 + 1 == 3"
    )
    selected, failed = _check(project)
    assert failed == {"tests/test_data.py::test_sum"}
    assert "tests/test_data.py::test_sum" in selected
    report = project.test()
    ids = {t["id"] for t in report["tests"]}
    assert "tests/test_data.py::test_plain" not in ids, "a renamed test's old id must disappear"


def test_new_test_file_and_failed_tests_rerun(sample: Callable[[dict[str, str]], Sample]) -> None:
    project = _baseline(sample)
    project.write("tests/test_new.py", "def test_broken():\n    assert False\n")
    first = project.test()
    assert ran(first) == {"tests/test_new.py::test_broken"} and first["returncode"] == 1
    second = project.test("--explain")
    assert ran(second) == {"tests/test_new.py::test_broken"}, "a failed test must run again"
    assert "failed last time" in second["stderr"]


def test_branch_switch_and_back_reuses_results(sample: Callable[[dict[str, str]], Sample]) -> None:
    project = _baseline(sample)
    project.git("checkout", "-q", "-b", "feature")
    project.replace("shop/prices.py", "return amount\n", "return amount + 0\n")
    project.write("tests/test_feature.py", "def test_feature():\n    assert True\n")
    project.git("add", "-A")
    project.git("commit", "-qm", "feature")
    on_feature = project.test()
    assert ran(on_feature) == {"tests/test_prices.py::test_net", "tests/test_feature.py::test_feature"}
    project.git("checkout", "-q", "main")
    back = project.test()
    assert ran(back) == set() and cached(back) == ALL and not back["pytest_started"]
    project.git("checkout", "-q", "feature")
    again = project.test()
    assert ran(again) == set() and cached(again) == ALL | {"tests/test_feature.py::test_feature"}


def test_environment_variable_change_reruns_everything(sample: Callable[[dict[str, str]], Sample]) -> None:
    project = sample({**FILES, "config/help.toml": '[test]\nenv_vars = ["SHOP_MODE"]\n'})
    assert ran(project.test(env={"SHOP_MODE": "a"})) == ALL
    assert ran(project.test(env={"SHOP_MODE": "a"})) == set()
    report = project.test("--explain", env={"SHOP_MODE": "b"})
    assert ran(report) == ALL
    assert "environment changed: $SHOP_MODE" in report["stderr"]


def test_ignore_and_deselect_are_answered_without_pytest(sample: Callable[[dict[str, str]], Sample]) -> None:
    project = _baseline(sample)
    args = ("--", "--ignore=tests/test_data.py", "--deselect", "tests/test_prices.py::test_net")
    kept = ALL - {"tests/test_data.py::test_rates", "tests/test_data.py::test_plain", "tests/test_prices.py::test_net"}
    report = project.test(*args)
    assert report["returncode"] == 0 and cached(report) == kept and ran(report) == set()
    assert not report["pytest_started"], "what is left out is known without collecting"
    project.replace("shop/prices.py", "return amount\n", "return amount + 1\n")  # net(): test_net fails
    (project.root / "data" / "rates.txt").write_text("4\n")  # test_rates fails
    report = project.test(*args)
    assert report["returncode"] == 0 and ran(report) == set(), "only left-out tests depend on those edits"
    assert {t["id"] for t in report["tests"]} == kept


def test_xdist_workers_record_dependencies(sample: Callable[[dict[str, str]], Sample]) -> None:
    project = sample(FILES)
    first = project.test("--", "-n", "2")
    assert first["returncode"] == 0, first["stderr"]
    assert ran(first) == ALL
    assert ran(project.test("--", "-n", "2")) == set()
    project.replace("shop/cart.py", "self.items.append(price)", "self.items.append(price * 2)")
    selective = project.test("--", "-n", "2")
    assert ran(selective) == {"tests/test_cart.py::test_total"}
    assert failing(selective) == {"tests/test_cart.py::test_total"} and selective["returncode"] == 1


def test_changed_since_git_ref(sample: Callable[[dict[str, str]], Sample]) -> None:
    project = _baseline(sample)
    project.replace(
        "shop/cart.py", "return sum(gross(p) for p in self.items)", "return sum(gross(p) for p in self.items) + 0"
    )
    report = project.test("--changed", "HEAD")
    assert ran(report) == {"tests/test_cart.py::test_empty", "tests/test_cart.py::test_total"}
    assert report["unaffected"] == len(ALL) - 2


def test_component_limits_the_tests(sample: Callable[[dict[str, str]], Sample]) -> None:
    project = sample({**FILES, "config/help.toml": '[test.components]\ncart = ["shop/cart.py"]\n'})
    project.test()
    report = project.test("--all", "--component", "cart")
    assert ran(report) == {"tests/test_cart.py::test_empty", "tests/test_cart.py::test_total"}
    bad = project.help("test", "--component", "nope")
    assert bad.returncode == 2 and "unknown component 'nope'" in bad.stderr and "cart" in bad.stderr


def test_code_run_in_a_subprocess_is_a_dependency(sample: Callable[[dict[str, str]], Sample]) -> None:
    project = sample(
        {
            "tool/__init__.py": "",
            "tool/cli.py": """
                import sys

                def greet(name):
                    return f"hello {name}"

                def unused():
                    return 0

                if __name__ == "__main__":
                    print(greet(sys.argv[1]))
            """,
            "tests/test_cli.py": """
                import os
                import subprocess
                import sys
                from pathlib import Path

                ROOT = Path(__file__).resolve().parents[1]

                def test_cli_greets():
                    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
                    out = subprocess.run([sys.executable, "-m", "tool.cli", "ada"], capture_output=True, text=True, env=env, cwd=ROOT)
                    assert out.stdout.strip() == "hello ada"

                def test_other():
                    assert True
            """,
        }
    )
    assert ran(project.test()) == {"tests/test_cli.py::test_cli_greets", "tests/test_cli.py::test_other"}
    project.replace("tool/cli.py", "return 0", "return 1")
    assert ran(project.test()) == set(), "a function no process ran changes nothing"
    project.replace("tool/cli.py", 'return f"hello {name}"', 'return f"hi {name}"')
    selected, failed = _check(project)
    assert failed == {"tests/test_cli.py::test_cli_greets"}
    assert selected == {"tests/test_cli.py::test_cli_greets"}


def test_files_read_as_data_by_the_test_or_its_subprocesses(sample: Callable[[dict[str, str]], Sample]) -> None:
    """A template is read, never imported: a .py one counts whole, as a .toml one, in any process."""
    project = sample(
        {
            "tool/__init__.py": "",
            "tool/scaffold.py": """
                import sys
                from pathlib import Path

                TEMPLATES = Path(__file__).parent / "templates"

                def render(name):
                    return (TEMPLATES / "app.py").read_text().replace("NAME", name)

                def settings():
                    return (TEMPLATES / "settings.toml").read_text()

                if __name__ == "__main__":
                    print(render(sys.argv[1]) if sys.argv[1:] else settings(), end="")
            """,
            "tool/templates/app.py": 'print("hello NAME")\n',
            "tool/templates/settings.toml": "debug = false\n",
            "tests/test_scaffold.py": """
                import os
                import subprocess
                import sys
                from pathlib import Path

                from tool.scaffold import render

                ROOT = Path(__file__).resolve().parents[1]

                def scaffold(*args):
                    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
                    command = [sys.executable, "-m", "tool.scaffold", *args]
                    return subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT).stdout

                def test_render():
                    assert render("ada") == 'print("hello ada")\\n'

                def test_cli_render():
                    assert scaffold("ada") == 'print("hello ada")\\n'

                def test_cli_settings():
                    assert scaffold() == "debug = false\\n"

                def test_other():
                    assert True
            """,
        }
    )
    first = project.test()
    assert first["returncode"] == 0, first["stderr"]
    assert len(ran(first)) == 4
    project.replace("tool/templates/app.py", "hello", "hi")
    selected, failed = _check(project)
    assert failed == {"tests/test_scaffold.py::test_render", "tests/test_scaffold.py::test_cli_render"}
    assert selected == failed, "only the tests that read the template, in process or in a subprocess"
    project.replace("tool/templates/app.py", "hi", "hello")
    assert project.test()["returncode"] == 0
    project.replace("tool/templates/settings.toml", "false", "true")
    selected, failed = _check(project)
    assert failed == selected == {"tests/test_scaffold.py::test_cli_settings"}


def test_constant_named_by_a_test_but_no_function_run_in_its_module(sample: Callable[[dict[str, str]], Sample]) -> None:
    project = sample(
        {
            "conf/__init__.py": "",
            "conf/settings.py": "RETRIES = 3\nTIMEOUT = 10\nNAMES = ['a', 'b']\nFIRST = NAMES[0]\n",
            "tests/test_settings.py": """
                from conf import settings

                def test_retries():
                    assert settings.RETRIES == 3

                def test_first():
                    assert settings.FIRST == "a"

                def test_unrelated():
                    assert 2 + 2 == 4
            """,
        }
    )
    project.test()
    project.replace("conf/settings.py", "RETRIES = 3", "RETRIES = 4")
    selected, failed = _check(project)
    assert failed == {"tests/test_settings.py::test_retries"}
    assert selected == {"tests/test_settings.py::test_retries"}
    project.replace("conf/settings.py", "RETRIES = 4", "RETRIES = 3")
    project.test()
    project.replace("conf/settings.py", "NAMES = ['a', 'b']", "NAMES = ['z', 'b']")
    selected, failed = _check(project)
    assert failed == {"tests/test_settings.py::test_first"}, "FIRST is computed from NAMES"
    assert selected == {"tests/test_settings.py::test_first"}


PLUGINS = {
    "reg/__init__.py": textwrap.dedent(
        """\
        import importlib

        NAMES = {"upper": "reg.shouting", "lower": "reg.quiet"}
        _loaded = {}


        def _load(name):
            module = importlib.import_module(NAMES[name])
            _loaded[name] = module.Plugin
            return module.Plugin


        def get(name):
            return _loaded.get(name) or _load(name)


        def every():
            return [get(name) for name in sorted(NAMES)]
        """
    ),
    "reg/shouting.py": textwrap.dedent(
        """\
        class Plugin:
            def _table(suffix):
                return {"end": suffix}

            table = _table("!")

            def apply(self, text):
                return text.upper() + self.table["end"]
        """
    ),
    "reg/quiet.py": "class Plugin:\n    table = {'end': '.'}\n\n    def apply(self, text):\n"
    "        return text.lower() + self.table['end']\n",
    "tests/test_by_name.py": textwrap.dedent(
        """\
        import reg


        def test_warm_up():
            assert len(reg.every()) == 2  # imports both plugins: later tests run none of their import code


        def test_upper():
            assert reg.get("upper")().apply("a") == "A!"


        def test_lower():
            assert reg.get("lower")().apply("A") == "a."
        """
    ),
    "tests/test_by_class.py": textwrap.dedent(
        """\
        import pytest

        import reg


        @pytest.mark.parametrize("plugin", reg.every())
        def test_ends_with_punctuation(plugin):
            assert plugin().apply("x")[-1] in "!."
        """
    ),
}


def test_code_run_at_import_of_a_lazily_loaded_module(sample: Callable[[dict[str, str]], Sample]) -> None:
    """A class built at import by a helper, found through a registry or given as a parameter."""
    project = sample(PLUGINS)
    assert project.test()["returncode"] == 0
    project.replace("reg/shouting.py", 'return {"end": suffix}', 'return {"end": suffix * 0}')
    selected, failed = _check(project)
    assert failed == {
        "tests/test_by_name.py::test_upper",
        "tests/test_by_class.py::test_ends_with_punctuation[Plugin1]",
    }
    project.git("checkout", "--", ".")
    assert project.test()["returncode"] == 0
    project.replace("reg/quiet.py", "return text.lower()", "return text.upper()")  # a method: only its users
    selected, failed = _check(project)
    assert failed == {"tests/test_by_name.py::test_lower"}
    assert "tests/test_by_name.py::test_upper" not in selected


DATA_PLUGINS = {
    "reg/__init__.py": textwrap.dedent(
        """\
        import importlib

        NAMES = {"upper": "reg.shouting", "lower": "reg.quiet"}
        _loaded = {}


        def get(name):
            if name not in _loaded:
                _loaded[name] = importlib.import_module(NAMES[name]).Plugin
            return _loaded[name]


        def every():
            return [get(name) for name in sorted(NAMES)]
        """
    ),
    "reg/base.py": textwrap.dedent(
        """\
        class Base:
            table = {}

            def apply(self, text):
                return text + self.table["end"]
        """
    ),
    "reg/shouting.py": 'from reg.base import Base\n\n\nclass Plugin(Base):\n    table = {"end": "!"}\n    aliases = ["upper"]\n',
    "reg/quiet.py": 'from reg.base import Base\n\nTIMEOUT = 3\n\n\nclass Plugin(Base):\n    table = {"end": "."}\n',
    "tests/test_plugins.py": textwrap.dedent(
        """\
        import reg


        def test_warm_up():
            assert len(reg.every()) == 2  # loads both: later tests get them from the registry's cache


        def test_upper():
            assert reg.get("upper")().apply("a") == "a!"


        def test_lower():
            assert reg.get("lower")().apply("a") == "a."


        def test_aliases():
            assert reg.get("upper").aliases == ["upper"]  # a class attribute: no method of the plugin runs
        """
    ),
}


def test_class_bodies_of_loaded_plugins_count_for_the_tests_that_used_them(
    sample: Callable[[dict[str, str]], Sample],
) -> None:
    """Data-only subclasses found through a registry, as Pygments' lexers are.

    Where the recorder sees which classes a test used (3.11's instrumentation:
    receivers of methods, values loaders return), a class-body edit reselects
    only those tests; otherwise every test that ran the loader.
    """
    precise = not hasattr(sys, "monitoring")
    project = sample(DATA_PLUGINS)
    assert project.test()["returncode"] == 0
    every = {f"tests/test_plugins.py::test_{name}" for name in ("warm_up", "upper", "lower", "aliases")}
    edits = [
        ('table = {"end": "!"}', 'table = {"end": "?"}', "upper"),  # used through the base class's method
        ('aliases = ["upper"]', 'aliases = ["loud"]', "aliases"),  # read off the class a loader returned
    ]
    for old, new, name in edits:
        project.replace("reg/shouting.py", old, new)
        selected, failed = _check(project)
        assert failed == {f"tests/test_plugins.py::test_{name}"}
        assert "tests/test_plugins.py::test_lower" not in selected if precise else selected == every
        project.git("checkout", "--", ".")
        assert project.test()["returncode"] == 0
    project.replace("reg/quiet.py", "TIMEOUT = 3", "TIMEOUT = 4")  # module data: every test that ran the loader
    selected, failed = _check(project)
    assert failed == set() and selected == every


EXAMPLES = {
    "fmt.py": "def shout(text):\n    return text.upper()\n",
    "tests/conftest.py": textwrap.dedent(
        """\
        import pytest

        import fmt


        class Example(pytest.Item):
            def runtest(self):
                text = self.path.read_text()
                assert fmt.shout(text) == text.upper()


        class ExampleFile(pytest.File):
            def collect(self):
                yield Example.from_parent(self, name=self.path.name)


        def pytest_collect_file(parent, file_path):
            if file_path.parent.name == "examples":
                return ExampleFile.from_parent(parent, path=file_path)
        """
    ),
    "tests/examples/sample.py": "import no_such_module  # an example, never imported\n",
    "tests/examples/notes.txt": ">>> 'a'\n'b'\n",  # a doctest that fails, were it collected as one
    "tests/test_plain.py": "def test_plain():\n    assert True\n",
}


def test_example_files_collected_by_a_conftest_are_rerun_not_imported(
    sample: Callable[[dict[str, str]], Sample],
) -> None:
    project = sample(EXAMPLES)
    assert project.test()["returncode"] == 0
    project.replace("fmt.py", "return text.upper()", "return text.lower()")
    selected, failed = _check(project)
    assert failed == {"tests/examples/sample.py::sample.py", "tests/examples/notes.txt::notes.txt"}
    assert "tests/test_plain.py::test_plain" not in selected
