"""Configuration layers, validation errors with file:line, secrets masked."""

from __future__ import annotations

import json

from tests.conftest import run_help, write


def show(root, env=None, *extra):
    result = run_help("config", "show", "--json", *extra, cwd=root, env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["settings"]


def test_layers_later_wins_and_sources_are_named(make_project) -> None:
    root = make_project(
        pyproject="""
        [project]
        name = "layers"
        [tool.help]
        manager = "poetry"
        [tool.help.cache]
        max_size = "1GiB"
        remote_timeout = 2.5
        """
    )
    write(root / "config/help.toml", 'manager = "pdm"\n[test]\npytest_args = ["-q"]\n')
    write(root / "config/help.ci.toml", '[test]\npytest_args = ["-x"]\n')
    settings = show(root)
    assert settings["manager"]["value"] == "pdm"
    assert settings["manager"]["source"].endswith("config/help.toml:1")
    assert settings["cache.max_size"]["value"] == "1GiB"
    assert settings["cache.max_size"]["source"].endswith("pyproject.toml:6")
    assert settings["test.pytest_args"]["value"] == ["-q"]

    ci = show(root, {"HELP_PROFILE": "ci"})
    assert ci["test.pytest_args"]["value"] == ["-x"]
    assert ci["profile"]["value"] == "ci"

    env = show(root, {"HELP_MANAGER": "uv", "HELP_CACHE__REMOTE_TIMEOUT": "9", "HELP_TEST__PYTEST_ARGS": "-x, -v"})
    assert env["manager"]["value"] == "uv"
    assert env["manager"]["source"] == "environment HELP_MANAGER"
    assert env["cache.remote_timeout"]["value"] == 9.0
    assert env["test.pytest_args"]["value"] == ["-x", "-v"]


def test_profile_flag_selects_the_profile_file(make_project) -> None:
    root = make_project()
    write(root / "config/help.production.toml", 'manager = "pip"\n')
    assert show(root, None, "--profile", "production")["manager"]["value"] == "pip"


def assert_one_clean_error(result, where: str, *words: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2, lines  # what is wrong, what to do
    assert lines[0].startswith("error: ") and where in lines[0], lines
    assert lines[1].startswith("hint: ")
    for word in words:
        assert word in lines[0]


def test_malformed_pyproject_names_file_and_line(make_project) -> None:
    root = make_project(pyproject='[project]\nname = "x"\n\n[tool.help\nmanager = "uv"\n')
    result = run_help("config", "check", cwd=root)
    assert_one_clean_error(result, "pyproject.toml:4", "invalid TOML")


def test_malformed_help_toml_names_file_and_line(make_project) -> None:
    root = make_project()
    write(root / "config/help.toml", 'manager = "uv"\ncache = { max_size = }\n')
    result = run_help("config", "check", cwd=root)
    assert_one_clean_error(result, "help.toml:2", "invalid TOML")


def test_wrong_type_names_file_line_and_key(make_project) -> None:
    root = make_project(pyproject='[project]\nname = "x"\n\n[tool.help.journal]\nkeep = "many"\n')
    result = run_help("config", "check", cwd=root)
    assert_one_clean_error(result, "pyproject.toml:5", "tool.help.journal.keep", "expected an integer")


def test_wrong_choice_is_reported(make_project) -> None:
    root = make_project(pyproject='[tool.help]\nmanager = "npm"\n')
    result = run_help("config", "check", cwd=root)
    assert_one_clean_error(result, "pyproject.toml:2", "expected one of")


def test_unknown_key_names_file_line_and_suggests(make_project) -> None:
    root = make_project()
    write(root / "config/help.toml", '[cache]\nmax_sise = "1GiB"\n')
    result = run_help("config", "check", cwd=root)
    assert_one_clean_error(result, "help.toml:2", "unknown setting 'cache.max_sise'")
    assert "cache.max_size" in result.stderr


def test_unknown_or_bad_environment_variable(make_project) -> None:
    root = make_project()
    result = run_help("config", "check", cwd=root, env={"HELP_CACHE__MAXSIZE": "1"})
    assert result.returncode == 2
    assert "HELP_CACHE__MAXSIZE" in result.stderr and "HELP_CACHE__MAX_SIZE" in result.stderr
    result = run_help("config", "check", cwd=root, env={"HELP_JOURNAL__KEEP": "lots"})
    assert result.returncode == 2
    assert "HELP_JOURNAL__KEEP='lots'" in result.stderr


def test_config_errors_stop_every_command_the_same_way(make_project) -> None:
    root = make_project(pyproject="[tool.help]\nbogus = 1\n")
    for args in (["cache", "stats"], ["history"], ["test"]):
        result = run_help(*args, cwd=root)
        assert result.returncode == 2
        assert "pyproject.toml:2" in result.stderr and "bogus" in result.stderr


def test_doctor_reports_a_broken_config_instead_of_crashing(make_project) -> None:
    root = make_project(pyproject="[tool.help]\nbogus = 1\n")
    result = run_help("doctor", "--json", cwd=root)
    assert result.returncode == 1
    checks = {c["name"]: c for c in json.loads(result.stdout)}
    assert checks["config"]["status"] == "fail"
    assert "pyproject.toml:2" in checks["config"]["detail"]
    assert checks["python"]["status"] == "ok"


def test_show_masks_credentials(make_project) -> None:
    root = make_project(pyproject='[tool.help.cache]\nremote = "http://ci:s3cret@cache.local:8080/help"\n')
    result = run_help("config", "show", cwd=root)
    assert result.returncode == 0
    assert "s3cret" not in result.stdout
    assert "http://ci:****@cache.local:8080/help" in result.stdout


def test_secret_keys_are_masked() -> None:
    from helper.commands.config import masked

    assert masked("run.secret_key", "abc") == "****"
    assert masked("publish.token", "abc") == "****"
    assert masked("manager", "uv") == "uv"


def test_config_check_on_a_valid_project(make_project) -> None:
    root = make_project(pyproject='[tool.help]\nmanager = "uv"\n')
    result = run_help("config", "check", cwd=root)
    assert result.returncode == 0
    assert "configuration valid" in result.stdout


def _age(path, seconds: float = 60) -> None:
    import os
    import time

    old = time.time() - seconds
    os.utime(path, (old, old))


def test_merged_config_is_cached_and_every_input_invalidates_it(make_project) -> None:
    root = make_project(pyproject='[tool.help]\nmanager = "uv"\n')
    _age(root / "pyproject.toml")
    assert show(root)["manager"]["value"] == "uv"
    cache = root / ".help" / "config.cache"
    assert cache.exists()
    cached_bytes = cache.read_bytes()
    assert show(root)["manager"]["source"].endswith("pyproject.toml:2")  # served from the cache
    assert cache.read_bytes() == cached_bytes

    (root / "pyproject.toml").write_text('[tool.help]\nmanager = "pdm"\n')
    _age(root / "pyproject.toml", 30)
    assert show(root)["manager"]["value"] == "pdm"
    assert show(root, {"HELP_MANAGER": "pip"})["manager"]["value"] == "pip"
    write(root / "config/help.ci.toml", 'manager = "poetry"\n')
    _age(root / "config/help.ci.toml")
    assert show(root, {"HELP_PROFILE": "ci"})["manager"]["value"] == "poetry"

    (root / "pyproject.toml").write_text("[tool.help]\nmanager = 3\n")
    _age(root / "pyproject.toml", 20)
    result = run_help("config", "check", cwd=root)
    assert result.returncode == 2 and "pyproject.toml:2: tool.help.manager: expected a string" in result.stderr


def test_a_corrupt_config_cache_is_ignored(make_project) -> None:
    root = make_project(pyproject='[tool.help]\nmanager = "uv"\n')
    _age(root / "pyproject.toml")
    show(root)
    (root / ".help" / "config.cache").write_bytes(b"\x00garbage")
    assert show(root)["manager"]["value"] == "uv"
