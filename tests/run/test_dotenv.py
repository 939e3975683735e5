"""`.env` from a template: generators, profiles, kept values, required keys, 0600, masking."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from helper.running import dotenv
from tests.conftest import HELP, clean_env, run_help, write

TEMPLATE = """\
# settings of the app
APP_NAME=demo
SECRET_KEY=${secret:32}
API_SALT=${hex:8}
INSTANCE=${uuid}
DB_NAME=app_${profile}
HOME_COPY=${env:DEMO_HOME:/nowhere}
GREETING="hello world"
LITERAL=$${not expanded}
DEBUG=true
DEBUG@production=false
"""


def env_lines(path: Path) -> dict[str, str]:
    return {e.key: e.value for e in dotenv.parse(path.read_text(), str(path))}


def test_template_generates_a_0600_env_without_printing_secrets(make_project) -> None:
    root = make_project(files={".env.example": TEMPLATE})
    result = run_help("run", "env", cwd=root, env={"DEMO_HOME": "/home/demo"})
    assert result.returncode == 0, result.stderr
    env_file = root / ".env"
    assert env_file.stat().st_mode & 0o777 == 0o600
    values = env_lines(env_file)
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", values["SECRET_KEY"])  # 32 bytes, URL-safe base64
    assert re.fullmatch(r"[0-9a-f]{16}", values["API_SALT"])
    assert re.fullmatch(r"[0-9a-f-]{36}", values["INSTANCE"])
    assert values["DB_NAME"] == "app_development"
    assert values["HOME_COPY"] == "/home/demo"
    assert values["GREETING"] == "hello world"
    assert values["LITERAL"] == "${not expanded}"
    assert values["DEBUG"] == "true"
    for secret in (values["SECRET_KEY"], values["API_SALT"]):
        assert secret not in result.stdout + result.stderr

    shown = run_help("config", "env", cwd=root)
    assert shown.returncode == 0, shown.stderr
    assert values["SECRET_KEY"] not in shown.stdout and values["API_SALT"] not in shown.stdout
    assert re.search(r"SECRET_KEY\s+\*\*\*\*", shown.stdout)
    as_json = json.loads(run_help("config", "env", "--json", cwd=root).stdout)
    assert as_json["values"]["SECRET_KEY"] == "****" and as_json["values"]["APP_NAME"] == "demo"
    assert as_json["mode"] == "0o600"


def test_existing_values_are_kept_and_only_new_keys_added(make_project) -> None:
    existing = "# mine\nAPP_NAME=custom   # my own name\nSECRET_KEY=keep-me\nEXTRA=mine\n"
    root = make_project(files={".env.example": TEMPLATE, ".env": existing})
    result = run_help("run", "env", cwd=root)
    assert result.returncode == 0, result.stderr
    text = (root / ".env").read_text()
    assert text.startswith(existing)  # the user's lines, byte for byte
    values = env_lines(root / ".env")
    assert values["APP_NAME"] == "custom" and values["SECRET_KEY"] == "keep-me" and values["EXTRA"] == "mine"
    assert text.count("SECRET_KEY=") == 1 and text.count("APP_NAME=") == 1
    assert "API_SALT=" in text

    again = run_help("run", "env", cwd=root)
    assert again.returncode == 0 and "up to date" in again.stdout
    assert (root / ".env").read_text() == text  # nothing new: not rewritten


def test_missing_required_key_fails_cleanly_and_writes_nothing(make_project) -> None:
    template = "APP=demo\nSECRET_KEY=${secret:16}\nSTRIPE_KEY=${required:the Stripe API key}\nMAIL_TOKEN=${required}\n"
    root = make_project(files={".env.example": template})
    result = run_help("run", cwd=root)
    assert result.returncode == 2
    assert "STRIPE_KEY (the Stripe API key)" in result.stderr and "MAIL_TOKEN" in result.stderr
    assert f"{root / '.env.example'}:3" in result.stderr
    assert "nothing was written" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (root / ".env").exists()
    assert not [p for p in root.iterdir() if p.name.startswith(".env") and p.name != ".env.example"]

    # With an existing .env: untouched, byte for byte and mode.
    write(root / ".env", "APP=mine\nSTRIPE_KEY=sk_live\n")
    (root / ".env").chmod(0o640)
    before = (root / ".env").read_bytes()
    result = run_help("run", "env", cwd=root)
    assert result.returncode == 2 and "MAIL_TOKEN" in result.stderr and "STRIPE_KEY" not in result.stderr
    assert (root / ".env").read_bytes() == before and (root / ".env").stat().st_mode & 0o777 == 0o640

    # A required key given by the environment is satisfied and not copied into the file.
    ok = run_help("run", "env", cwd=root, env={"MAIL_TOKEN": "from-ci-secret"})
    assert ok.returncode == 0, ok.stderr
    assert "from-ci-secret" not in (root / ".env").read_text()
    assert (root / ".env").stat().st_mode & 0o777 == 0o600


def test_profiles_pick_their_lines_and_file(make_project) -> None:
    root = make_project(files={".env.example": TEMPLATE})
    assert run_help("run", "env", "--profile", "production", cwd=root).returncode == 0
    prod = env_lines(root / ".env.production")
    assert prod["DEBUG"] == "false" and prod["DB_NAME"] == "app_production"
    assert not (root / ".env").exists()
    # A profile's own template wins over the shared one.
    write(root / "config" / "env.test.template", "ONLY_TEST=1\n")
    assert run_help("run", "env", "--profile", "test", cwd=root).returncode == 0
    assert env_lines(root / ".env.test") == {"ONLY_TEST": "1"}


def test_malformed_env_file_names_the_line_and_is_not_touched(make_project) -> None:
    root = make_project(files={".env.example": TEMPLATE, ".env": "APP_NAME=x\nthis is not an assignment\n"})
    before = (root / ".env").read_bytes()
    result = run_help("run", "env", cwd=root)
    assert result.returncode == 2
    assert f"{root / '.env'}:2: not a KEY=value line" in result.stderr
    assert (root / ".env").read_bytes() == before


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("K=${nope}", "unknown generator ${nope}"),
        ("K=${secret:lots}", "must be a number of bytes"),
        ('K="open', "unterminated"),
    ],
)
def test_bad_template_lines_are_errors_with_file_line(make_project, line: str, message: str) -> None:
    root = make_project(files={"config/env.template": f"A=1\n{line}\n"})
    result = run_help("run", "env", cwd=root)
    assert result.returncode == 2
    assert "env.template:2" in result.stderr and message in result.stderr
    assert not (root / ".env").exists()


def test_two_generations_at_once_add_each_key_once(make_project) -> None:
    root = make_project(files={".env.example": TEMPLATE})
    procs = [
        subprocess.Popen(
            [sys.executable, str(HELP), "run", "env"],
            cwd=root,
            env=clean_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    for p in procs:
        p.communicate(timeout=60)
        assert p.returncode == 0
    text = (root / ".env").read_text()
    for key in ("APP_NAME", "SECRET_KEY", "API_SALT", "INSTANCE", "DEBUG"):
        assert text.count(f"\n{key}=") + text.startswith(f"{key}=") == 1, text


def test_masking_hides_url_passwords_and_secret_names() -> None:
    assert dotenv.mask("DATABASE_URL", "postgresql://app:s3cret@db:5432/app") == "postgresql://app:****@db:5432/app"
    assert dotenv.mask("API_TOKEN", "abc") == "****"
    assert dotenv.mask("PLAIN", "value") == "value"
    assert dotenv.mask("SALT", "xyz", {"SALT"}) == "****"


def test_quoting_round_trips() -> None:
    for value in ["simple", "with space", 'quo"te', "back\\slash", "multi\nline", "hash # not comment", ""]:
        assert dotenv.parse(f"K={dotenv.quote(value)}\n", "x")[0].value == value


def test_a_template_that_is_not_utf8_is_a_clean_error(make_project) -> None:
    root = make_project()
    (root / ".env.example").write_bytes(b"NAME=caf\xe9\n")
    result = run_help("run", "env", cwd=root)
    assert result.returncode == 2 and ".env.example is not UTF-8 text" in result.stderr
    assert not (root / ".env").exists()


def test_a_generated_env_outside_gitignore_is_warned_about(git_repo) -> None:
    root = git_repo(files={".env.example": "SECRET_KEY=${secret}\n"})
    result = run_help("run", "env", cwd=root)
    assert result.returncode == 0 and ".env holds secrets but is not git-ignored" in result.stderr
    write(root / ".gitignore", ".env*\n!.env.example\n")
    (root / ".env").unlink()
    result = run_help("run", "env", cwd=root)
    assert result.returncode == 0 and "git-ignored" not in result.stderr


def test_config_env_says_where_to_set_a_required_key(make_project) -> None:
    root = make_project(files={".env.example": "APP_NAME=demo\nAPI_TOKEN=${required:from the dashboard}\n"})
    (root / ".env").write_text("APP_NAME=demo\n")
    shown = run_help("config", "env", cwd=root)
    assert shown.returncode == 0, shown.stderr
    assert "API_TOKEN (from the dashboard): set it yourself" in shown.stdout
    assert "API_TOKEN=... in .env" in shown.stdout
    assert "`help.py run env` adds them" not in shown.stdout  # it never writes a required key
    as_json = json.loads(run_help("config", "env", "--json", cwd=root).stdout)
    assert as_json["required"] == {"API_TOKEN": "from the dashboard"} and as_json["pending"] == []
    # What the message says holds: `run env` refuses, a line in .env satisfies it.
    assert run_help("run", "env", cwd=root).returncode != 0
    (root / ".env").write_text("APP_NAME=demo\nAPI_TOKEN=t0k3n\n")
    assert "required, no value yet" not in run_help("config", "env", cwd=root).stdout
    exported = run_help("config", "env", cwd=root, env={"API_TOKEN": "x"})
    assert "required, no value yet" not in exported.stdout
