"""Detection when nothing is configured: the framework's dev server, migrations, services."""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path

from tests.conftest import run_help
from tests.run.conftest import free_port

FASTAPI_SRC = "from fastapi import FastAPI\n\napi: FastAPI = FastAPI()\n"
FLASK = "from flask import Flask\n\nserver = Flask(__name__)\n"


def plan(root: Path, *args: str, env: dict[str, str] | None = None) -> dict:
    result = run_help("run", "plan", "--json", *args, cwd=root, env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def commands(data: dict) -> dict[str, str]:
    return {p["name"]: p["command"] for p in data["processes"]}


def test_fastapi_in_a_src_layout_gets_uvicorn_with_reload(make_project) -> None:
    root = make_project(
        files={"src/shop/main.py": FASTAPI_SRC, "tests/test_x.py": "from fastapi import FastAPI\napp = FastAPI()\n"}
    )
    data = plan(root, env={"PORT": "9123"})
    assert data["source"] == "detected"
    web = commands(data)["web"]
    assert f"{sys.executable} -m uvicorn shop.main:api --reload --host 127.0.0.1 --port 9123 --app-dir src" in web


def test_flask_gets_flask_run_debug_and_the_venv_python(make_project) -> None:
    root = make_project(files={"app.py": FLASK})
    (root / ".venv" / "bin").mkdir(parents=True)
    (root / ".venv" / "bin" / "python").symlink_to(sys.executable)
    web = commands(plan(root))["web"]
    assert (
        web == f"{root / '.venv' / 'bin' / 'python'} -m flask --app app:server run --debug --host 127.0.0.1 --port 8000"
    )


def test_django_migrates_before_runserver(make_project) -> None:
    root = make_project(files={"manage.py": "import sys\n", "alembic.ini": "[alembic]\nscript_location = migrations\n"})
    data = plan(root)
    # Both migration tools found: alembic first, then Django's, then the server.
    assert [(p["name"], p["depends_on"]) for p in data["processes"]] == [
        ("alembic", []),
        ("migrate", ["alembic"]),
        ("web", ["migrate"]),
    ]
    assert commands(data)["migrate"].endswith("manage.py migrate --noinput")
    assert commands(data)["web"].endswith("manage.py runserver 127.0.0.1:8000")


def test_alembic_step_runs_until_the_database_is_at_head(make_project) -> None:
    files = {
        "main.py": "from fastapi import FastAPI\napp = FastAPI()\n",
        "alembic.ini": "[alembic]\nscript_location = %(here)s/migrations\nsqlalchemy.url = sqlite:///db/dev.db\n",
        "migrations/versions/a1.py": 'revision = "a1"\ndown_revision = None\n',
        "migrations/versions/b2.py": 'revision: str = "b2"\ndown_revision: str | None = "a1"\n',
    }
    root = make_project(files=files)
    data = plan(root)
    assert [p["name"] for p in data["processes"]] == ["migrate", "web"]
    assert commands(data)["migrate"].endswith("-m alembic upgrade head")
    (root / "db").mkdir()
    with sqlite3.connect(root / "db" / "dev.db") as conn:
        conn.execute("CREATE TABLE alembic_version (version_num TEXT)")
        conn.execute("INSERT INTO alembic_version VALUES ('a1')")
    assert [p["name"] for p in plan(root)["processes"]] == ["migrate", "web"]  # behind: still migrates
    with sqlite3.connect(root / "db" / "dev.db") as conn:
        conn.execute("UPDATE alembic_version SET version_num = 'b2'")
    at_head = plan(root)
    assert [p["name"] for p in at_head["processes"]] == ["web"]
    # DATABASE_URL (from .env or the environment) points alembic elsewhere: not at head there.
    assert [p["name"] for p in plan(root, env={"DATABASE_URL": "sqlite:///other.db"})["processes"]] == [
        "migrate",
        "web",
    ]


def test_nothing_to_run_says_what_to_configure(make_project) -> None:
    root = make_project(files={"lib.py": "x = 1\n"})
    result = run_help("run", cwd=root)
    assert result.returncode == 1
    assert "nothing to run" in result.stderr and "[tool.help.run.processes]" in result.stderr


def test_sqlite_file_is_created_and_redis_down_is_explained(make_project) -> None:
    pyproject = f'[project]\nname = "demo"\nversion = "0"\n\n[tool.help.run.processes]\nonce = [{json.dumps(sys.executable)}, "-c", "print(1)"]\n'
    root = make_project(pyproject=pyproject, files={".env.example": "DATABASE_URL=sqlite:///var/data/app.sqlite3\n"})
    result = run_help("run", cwd=root, timeout=60)
    assert result.returncode == 0, result.stderr
    assert (root / "var" / "data" / "app.sqlite3").is_file()
    assert "created the SQLite database var/data/app.sqlite3" in result.stderr
    port = free_port()  # nothing listens there
    for var, url, kind, image in [
        ("REDIS_URL", f"redis://127.0.0.1:{port}/0", "redis", "redis:7"),
        ("DATABASE_URL", f"mysql+pymysql://app:pw@127.0.0.1:{port}/app", "mysql", "mysql:8"),
        ("DATABASE_URL", f"postgresql+psycopg://app:pw@127.0.0.1:{port}/app", "postgres", "postgres:16"),
    ]:
        down = run_help("run", cwd=root, env={var: url}, timeout=60)
        assert down.returncode == 1
        assert f"{kind} at 127.0.0.1:{port} (from {var}) is not reachable" in down.stderr and image in down.stderr
        assert ":pw@" not in down.stderr


def test_a_detected_server_missing_from_the_venv_is_named_before_anything_starts(make_project) -> None:
    import subprocess

    root = make_project(
        files={"main.py": "from fastapi import FastAPI\napp = FastAPI()\n", "alembic.ini": "[alembic]\n"}
    )
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root / ".venv")], check=True)
    data = plan(root)
    assert data["missing"] == ["alembic", "uvicorn"]
    result = run_help("run", cwd=root, timeout=60)
    assert result.returncode == 1
    assert f"alembic, uvicorn are not installed in {root / '.venv'}" in result.stderr
    assert f"{root / '.venv' / 'bin' / 'python'} -m pip install alembic uvicorn" in result.stderr
    assert not list(root.glob(".help/run/*.pid"))
