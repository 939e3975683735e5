"""A real local package index for the install tests: tiny wheels served as PEP 503 pages on loopback.

Packages: alpha 1.0 / 2.0; beta 1.0 (needs alpha<2); gamma 1.0 (needs alpha>=2);
delta 1.0 / 1.1; epsilon 1.0; pytest and setuptools repacked from this interpreter. `slowpkg` never answers until the test releases it
(for interrupted installs); any other name is a 404, i.e. an unknown package.
"""

from __future__ import annotations

import base64
import hashlib
import html
import http.server
import importlib.metadata
import os
import re
import socket
import sys
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

PACKAGES = [
    ("alpha", "1.0", []),
    ("alpha", "2.0", []),
    ("beta", "1.0", ["alpha<2"]),
    ("gamma", "1.0", ["alpha>=2"]),
    ("delta", "1.0", []),
    ("delta", "1.1", []),
    ("epsilon", "1.0", []),
]


def _b64(digest: bytes) -> str:
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def build_wheel(folder: Path, name: str, version: str, requires: list[str]) -> Path:
    """A valid pure-Python wheel with METADATA, WHEEL and a RECORD of hashes."""
    dist = f"{name}-{version}.dist-info"
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nRequires-Python: >=3.8\n"
    metadata += "".join(f"Requires-Dist: {r}\n" for r in requires)
    files = {
        f"{name}/__init__.py": f'__version__ = "{version}"\n',
        f"{dist}/METADATA": metadata,
        f"{dist}/WHEEL": "Wheel-Version: 1.0\nGenerator: help-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = [
        f"{path},sha256={_b64(hashlib.sha256(text.encode()).digest())},{len(text.encode())}"
        for path, text in files.items()
    ]
    record.append(f"{dist}/RECORD,,")
    files[f"{dist}/RECORD"] = "\n".join(record) + "\n"
    path = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for rel, text in files.items():
            info = zipfile.ZipInfo(rel, date_time=(2024, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            archive.writestr(info, text)
    return path


@dataclass
class Index:
    url: str  # .../simple/
    root: Path
    stalled: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    requests: list[str] = field(default_factory=list)


# Served too, repacked from this interpreter's own installation: a project's tests can then really run.
PYTEST_DISTS = ("pytest", "pluggy", "iniconfig", "packaging", "pygments")
# And the backend a setup.py / setup.cfg project's editable install is built with (pipenv keeps it installed here).
BUILD_DISTS = ("setuptools",)


def _applies_here(requirement: str) -> bool:
    """A Requires-Dist line without a marker, or with one this platform meets (no extras, no win32)."""
    _, _, marker = requirement.partition(";")
    marker = marker.strip()
    if not marker:
        return True
    if "extra" in marker or "win32" in marker:
        return False
    if "python_version" in marker:
        return marker.replace(" ", "") not in ('python_version<"3.11"', "python_version<'3.11'")
    return True


def repack_wheel(folder: Path, name: str) -> Path:
    """A wheel of the installed distribution `name` (its files as RECORD lists them), requirements kept that apply.

    Every requirement left is one the other repacked distributions satisfy, so resolvers (uv's and pdm's
    universal ones too) find everything on the local index.
    """
    import importlib.metadata

    dist = importlib.metadata.distribution(name)
    version = dist.version
    info = f"{re.sub(r'[-_.]+', '_', dist.metadata['Name']).lower()}-{version}.dist-info"
    files: dict[str, bytes] = {}
    for item in dist.files or ():
        rel = str(item)
        if (
            rel.startswith("..")
            or "__pycache__" in rel
            or rel.endswith((".pyc", "/RECORD", "/INSTALLER", "/REQUESTED"))
        ):
            continue
        if rel.endswith("/direct_url.json"):
            continue
        source = Path(str(dist.locate_file(item)))
        if not source.is_file():
            continue
        data = source.read_bytes()
        if rel.endswith(".dist-info/METADATA"):
            lines = data.decode().split("\n")
            kept = [
                line
                for line in lines
                if not line.startswith("Requires-Dist:") or _applies_here(line[len("Requires-Dist:") :])
            ]
            data = "\n".join(kept).encode()
        top, _, rest = rel.partition("/")
        files[f"{info}/{rest}" if top.endswith(".dist-info") else rel] = data
    record = [f"{path},sha256={_b64(hashlib.sha256(data).digest())},{len(data)}" for path, data in files.items()]
    record.append(f"{info}/RECORD,,")
    files[f"{info}/RECORD"] = ("\n".join(record) + "\n").encode()
    path = folder / f"{info[: -len('.dist-info')]}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for rel, data in files.items():
            entry = zipfile.ZipInfo(rel, date_time=(2024, 1, 1, 0, 0, 0))
            entry.external_attr = 0o644 << 16
            archive.writestr(entry, data)
    return path


def _make_tree(root: Path) -> None:
    files = root / "files"
    files.mkdir(parents=True)
    by_name: dict[str, list[Path]] = {}
    for name, version, requires in PACKAGES:
        by_name.setdefault(name, []).append(build_wheel(files, name, version, requires))
    requires_python = dict.fromkeys(by_name, ">=3.8")
    for name in PYTEST_DISTS + BUILD_DISTS:
        by_name[name] = [repack_wheel(files, name)]
        requires_python[name] = importlib.metadata.metadata(name).get("Requires-Python") or ""
    simple = root / "simple"
    simple.mkdir()
    links = []
    for name, wheels in by_name.items():
        (simple / name).mkdir()
        python = html.escape(requires_python[name])
        anchors = "".join(
            f'<a href="/files/{w.name}#sha256={hashlib.sha256(w.read_bytes()).hexdigest()}" data-requires-python="{python}">{w.name}</a><br>\n'
            for w in wheels
        )
        (simple / name / "index.html").write_text(f"<!DOCTYPE html><html><body>\n{anchors}</body></html>\n")
        links.append(f'<a href="/simple/{name}/">{name}</a><br>')
    (simple / "index.html").write_text("<!DOCTYPE html><html><body>\n" + "\n".join(links) + "\n</body></html>\n")


@pytest.fixture(scope="session")
def index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Index]:
    root = tmp_path_factory.mktemp("index")
    _make_tree(root)
    state = Index(url="", root=root)

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            state.requests.append(self.path)
            if self.path.startswith("/simple/slowpkg"):
                state.stalled.set()
                state.release.wait(120)
                self.send_error(404)
                return
            super().do_GET()

    class Server(http.server.ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(self, request: object, client_address: object) -> None:
            pass  # a client killed mid-request (the point of some tests) is not an error

    server = Server(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/simple/"
    yield state
    state.release.set()
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def tool_caches(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("caches")


def index_env(url: str, caches: Path) -> dict[str, str]:
    """Point pip, uv, poetry and pdm at `url` only, with private caches."""
    return {
        "PIP_INDEX_URL": url,
        "PIP_CONFIG_FILE": os.devnull,
        "PIP_RETRIES": "1",
        "PIP_DEFAULT_TIMEOUT": "20",
        "PIP_NO_INPUT": "1",
        "UV_DEFAULT_INDEX": url,
        "UV_CACHE_DIR": str(caches / "uv"),
        "UV_PYTHON_DOWNLOADS": "never",
        "UV_NO_CONFIG": "1",
        "UV_HTTP_RETRIES": "0",
        "POETRY_CACHE_DIR": str(caches / "poetry"),
        "POETRY_NO_INTERACTION": "1",
        # These tests read .venv; poetry's own default (its virtualenvs folder) has tests/install/test_one_env.py.
        "POETRY_VIRTUALENVS_IN_PROJECT": "true",
        "PDM_CACHE_DIR": str(caches / "pdm"),
        "XDG_CONFIG_HOME": str(caches / "config"),
    }


def isolate(monkeypatch: pytest.MonkeyPatch, url: str, caches: Path) -> None:
    for name in list(os.environ):
        if name.startswith(("PIP_", "UV_", "POETRY_", "PDM_")):
            monkeypatch.delenv(name)
    for name, value in index_env(url, caches).items():
        monkeypatch.setenv(name, value)


@pytest.fixture(autouse=True)
def isolated_index(index: Index, tool_caches: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every help.py run of these tests sees only the local index (no machine-wide pip config)."""
    isolate(monkeypatch, index.url, tool_caches)


def closed_port_url() -> str:
    """An index URL nobody listens on (a bound-then-closed loopback port)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/simple/"


def venv_versions(project: Path, venv: str = ".venv") -> dict[str, str]:
    """{name: version} of what a project's environment has installed, read from its metadata."""
    import json
    import subprocess

    python = project / venv / "bin" / "python"
    out = subprocess.run(
        [
            str(python),
            "-c",
            "import json,importlib.metadata as m;print(json.dumps({d.metadata['Name'].lower():d.version for d in m.distributions()}))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(out)


PY = sys.executable
