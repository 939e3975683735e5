"""What to run when nothing is configured: the web framework, migrations, services.

Detection only reads files: FastAPI/Starlette (uvicorn --reload), Flask
(flask run --debug), Django (manage.py runserver, migrate first); alembic.ini
means `alembic upgrade head` before the start, skipped when a SQLite database
is already at the head revision.
"""

from __future__ import annotations

import configparser
import os
import re
import sqlite3
import sys
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import unquote, urlsplit

from helper.errors import HelpError
from helper.running.spec import ProcessSpec, Ready

_APP = re.compile(r"^(\w+)\s*(?::[^=]+)?=\s*(FastAPI|Starlette|Flask)\(", re.MULTILINE)
# Never an app's entry point; dot-directories (.venv, .git, ...) are skipped too.
SKIP_DIRS = {
    "venv",
    "env",
    "__pycache__",
    "build",
    "dist",
    "node_modules",
    "site-packages",
    "tests",
    "test",
    "migrations",
    "alembic",
    "docs",
}
MAX_FILES = 400


def find_python(root: Path, environ: Mapping[str, str]) -> Path:
    """Where no project environment exists (helper.envs.project_env): .venv, venv, $VIRTUAL_ENV, else help.py's own."""
    from helper.envs.layout import venv_python

    for candidate in (
        root / ".venv",
        root / "venv",
        Path(environ["VIRTUAL_ENV"]) if environ.get("VIRTUAL_ENV") else None,
    ):
        if candidate is not None and venv_python(candidate).exists():
            return venv_python(candidate)
    return Path(sys.executable)


def _candidates(root: Path) -> list[Path]:
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        depth = Path(dirpath).relative_to(root).parts
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.startswith(".") and len(depth) < 3)
        found.extend(Path(dirpath) / f for f in sorted(filenames) if f.endswith(".py") and not f.startswith("test"))
        if len(found) > MAX_FILES:
            break
    # Conventional entry points first.
    rank = {"main.py": 0, "app.py": 1, "asgi.py": 2, "wsgi.py": 2, "server.py": 3, "api.py": 3}
    return sorted(found[:MAX_FILES], key=lambda p: (len(p.relative_to(root).parts), rank.get(p.name, 9), str(p)))


def _module(root: Path, path: Path) -> tuple[str, str | None]:
    """(dotted module, app dir for uvicorn --app-dir or None) of a file in the project."""
    rel = path.relative_to(root).with_suffix("")
    parts = list(rel.parts)
    app_dir = None
    if parts[0] == "src" and len(parts) > 1:
        parts, app_dir = parts[1:], "src"
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts), app_dir


def find_app(root: Path) -> tuple[str, str, str | None] | None:
    """(framework, "module:variable", app_dir) of the first web app found, or None."""
    for path in _candidates(root):
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        match = _APP.search(text)
        if match:
            module, app_dir = _module(root, path)
            return match.group(2).lower(), f"{module}:{match.group(1)}", app_dir
    return None


def server(root: Path, python: Path, host: str, port: int) -> tuple[list[ProcessSpec], list[ProcessSpec]]:
    """(setup steps, processes) for the project's framework; ([], []) when none is found."""
    setup: list[ProcessSpec] = []
    if (root / "manage.py").is_file():
        setup.append(
            ProcessSpec(
                "migrate",
                [str(python), "manage.py", "migrate", "--noinput"],
                oneshot=True,
                restart="no",
                requires=("django",),
            )
        )
        web = ProcessSpec(
            "web",
            [str(python), "manage.py", "runserver", f"{host}:{port}"],
            ready=Ready("port", port),
            requires=("django",),
        )
        return setup, [web]
    app = find_app(root)
    if app is None:
        return setup, []
    framework, target, app_dir = app
    if framework == "flask":
        cmd = [str(python), "-m", "flask", "--app", target, "run", "--debug", "--host", host, "--port", str(port)]
    else:
        cmd = [str(python), "-m", "uvicorn", target, "--reload", "--host", host, "--port", str(port)]
        if app_dir:
            cmd += ["--app-dir", app_dir, "--reload-dir", str(root / app_dir)]
    return setup, [ProcessSpec("web", cmd, ready=Ready("port", port), requires=(cmd[2],))]


def installed(python: Path, module: str) -> bool | None:
    """Is `module` importable by `python`? Told from files, no interpreter started; None if unknown."""
    if python == Path(sys.executable):
        import importlib.util

        return importlib.util.find_spec(module) is not None
    venv = python.parent.parent
    if not (venv / "pyvenv.cfg").is_file():
        return None
    from helper.envs.layout import site_packages

    found = False
    for site in site_packages(venv):
        names = {entry.name.lower() for entry in site.iterdir()}
        if (
            module in names
            or f"{module}.py" in names
            or any(n.startswith(f"{module}-") and n.endswith(".dist-info") for n in names)
        ):
            return True
        found = True
    if not found or "include-system-site-packages = true" in (venv / "pyvenv.cfg").read_text(errors="replace").lower():
        return None  # a layout we do not know, or system packages visible too: let the process tell
    return False


# -- alembic ------------------------------------------------------------------


def alembic_step(root: Path, python: Path, environ: Mapping[str, str]) -> ProcessSpec | None:
    """`alembic upgrade head` when alembic.ini exists and the database is not at head already."""
    ini = root / "alembic.ini"
    if not ini.is_file():
        return None
    if alembic_at_head(root, ini, environ):
        return None
    return ProcessSpec(
        "migrate", [str(python), "-m", "alembic", "upgrade", "head"], oneshot=True, restart="no", requires=("alembic",)
    )


def _heads(versions: Path) -> set[str]:
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in versions.glob("*.py"):
        text = path.read_text(encoding="utf-8", errors="replace")
        rev = re.search(r"^revision\s*(?::[^=]+)?=\s*['\"]([^'\"]+)['\"]", text, re.MULTILINE)
        down = re.search(r"^down_revision\s*(?::[^=]+)?=\s*(.+)$", text, re.MULTILINE)
        if not rev:
            raise ValueError(f"no revision in {path}")
        revisions.add(rev.group(1))
        if down:
            parents.update(re.findall(r"['\"]([^'\"]+)['\"]", down.group(1)))
    return revisions - parents


def alembic_at_head(root: Path, ini: Path, environ: Mapping[str, str]) -> bool:
    """True only when provably at head: a SQLite database whose alembic_version is every head."""
    try:
        parser = configparser.ConfigParser(defaults={"here": str(ini.parent)})
        parser.read(ini, encoding="utf-8")
        section = parser["alembic"]
        if section.get("version_locations"):
            return False
        url = environ.get("DATABASE_URL") or section.get("sqlalchemy.url", "") or ""
        db = sqlite_path(url, root)
        location = Path(section.get("script_location", "alembic"))
        versions = (location if location.is_absolute() else ini.parent / location) / "versions"
        if db is None or not db.is_file() or not versions.is_dir():
            return False
        heads = _heads(versions)
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as conn:
            current = {row[0] for row in conn.execute("SELECT version_num FROM alembic_version")}
        return bool(heads) and current == heads
    except (OSError, ValueError, KeyError, configparser.Error, sqlite3.Error):
        return False


# -- services -------------------------------------------------------------------


def sqlite_path(url: str, root: Path) -> Path | None:
    """The file of a sqlite:// URL (relative to the project root), None if not SQLite or in memory."""
    parts = urlsplit(url)
    if parts.scheme.split("+")[0] != "sqlite":
        return None
    raw = unquote(url.split("://", 1)[1].split("?", 1)[0])
    if raw.startswith("/"):
        raw = raw[1:]  # sqlite:///rel.db -> rel.db ; sqlite:////abs.db -> /abs.db
    if not raw or raw == ":memory:":
        return None
    path = Path(raw)
    return path if path.is_absolute() else root / path


_SERVICES = {
    "postgres": (
        5432,
        "docker run -d --name postgres -p 5432:5432 -e POSTGRES_PASSWORD=postgres postgres:16  (or: sudo systemctl start postgresql)",
    ),
    "mysql": (
        3306,
        "docker run -d --name mysql -p 3306:3306 -e MYSQL_ROOT_PASSWORD=mysql mysql:8  (or: sudo systemctl start mysql)",
    ),
    "redis": (6379, "docker run -d --name redis -p 6379:6379 redis:7  (or: redis-server --daemonize yes)"),
}
_KINDS = {
    "postgres": "postgres",
    "postgresql": "postgres",
    "psql": "postgres",
    "mysql": "mysql",
    "mariadb": "mysql",
    "redis": "redis",
    "rediss": "redis",
}


def check_services(root: Path, environ: Mapping[str, str]) -> list[str]:
    """Create a SQLite file named by DATABASE_URL; a server URL that is down is a HelpError."""
    from helper.running.readiness import port_open

    notes = []
    for var in ("DATABASE_URL", "REDIS_URL"):
        url = environ.get(var, "").strip()
        if not url:
            continue
        db = sqlite_path(url, root)
        if db is not None:
            if not db.exists():
                db.parent.mkdir(parents=True, exist_ok=True)
                sqlite3.connect(db).close()
                notes.append(f"created the SQLite database {db.relative_to(root) if db.is_relative_to(root) else db}")
            continue
        parts = urlsplit(url)
        kind = _KINDS.get(parts.scheme.split("+")[0].lower())
        if kind is None or not parts.hostname:
            continue  # unknown scheme or a unix socket: nothing to probe
        default_port, how = _SERVICES[kind]
        try:
            port = parts.port or default_port
        except ValueError:
            raise HelpError(f"{var} has an invalid port", f"fix {var} in .env") from None
        if not port_open(parts.hostname, port, timeout=1.0):
            raise HelpError(
                f"{kind} at {parts.hostname}:{port} (from {var}) is not reachable",
                f"start it first, e.g. {how}; or point {var} at a running server",
            )
    return notes
