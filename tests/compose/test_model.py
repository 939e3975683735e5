"""The compose model without an engine: files, merge per profile, .env interpolation, errors, secrets."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from helper.errors import ConfigError
from plugins.compose.model import check_secrets, load, masked
from plugins.compose.yamlish import loads
from tests.conftest import write


class FakeProject:
    """Only what the model reads: root, profile and settings (a real Project needs a config load)."""

    def __init__(self, root: Path, profile: str = "development") -> None:
        self.root = root
        self.profile = profile

    def get(self, key: str) -> object:
        return None


BASE = """
services:
  web:
    image: base:${TAG:-1}
    ports: ["8080:80"]
    environment:
      API_TOKEN: ${API_TOKEN}
      MODE: dev
    depends_on: [db]
  db:
    image: db
    command: sh -c 'sleep 1000'
    healthcheck:
      test: [CMD-SHELL, "test -f /tmp/ok"]
      interval: 500ms
      retries: 2
"""


def test_yaml_subset_keeps_lines_and_types() -> None:
    doc = loads(
        "a:\n  b: 1\n  c: [x, 'y z', 2.5]\n  d: {e: true}\n  f:\n  - g: null\n    h: |\n      one\n      two\n", "f"
    )
    assert doc == {"a": {"b": 1, "c": ["x", "y z", 2.5], "d": {"e": True}, "f": [{"g": None, "h": "one\ntwo\n"}]}}
    assert doc["a"].lines == {"b": 2, "c": 3, "d": 4, "f": 5}


def test_profile_override_and_env_interpolation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TAG", raising=False)
    write(tmp_path / "compose.yaml", BASE)
    write(tmp_path / "compose.test.yaml", "services:\n  web:\n    ports: ['9090:90']\n    environment: [MODE=test]\n")
    (tmp_path / ".env.test").write_text("API_TOKEN=s3cr3t-value\nTAG=7\n")
    model = load(FakeProject(tmp_path, "test"))
    web = model.services["web"]
    assert web.image == "base:7"
    assert [p.spec() for p in web.ports] == ["8080:80/tcp", "9090:90/tcp"]
    assert web.environment == {"API_TOKEN": "s3cr3t-value", "MODE": "test"}
    assert model.order(["web"]) == ["db", "web"]
    assert model.services["db"].health is not None and model.services["db"].health.interval == 0.5
    shown = json.dumps(masked(model))
    assert "s3cr3t-value" not in shown and "****" in shown
    # development profile: no override, default tag
    dev = load(FakeProject(tmp_path))
    assert dev.services["web"].image == "base:1" and len(dev.services["web"].ports) == 1


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("services:\n  web:\n    image: x\n    portz: [1]\n", 4, "services.web.portz: unknown key"),
        ("services:\n  web:\n    image: x\n    ports: ['80:abc']\n", 4, "services.web.ports"),
        (
            "services:\n  web:\n    image: x\n    healthcheck:\n      test: [CMD, true]\n      interval: soon\n",
            6,
            "interval",
        ),
        ("services:\n  web:\n    image: x\n     bad: 1\n", 4, "indentation"),
        ("services:\n  web:\n    image: [x\n", 3, "unclosed"),
        ("services:\n  web:\n    image: x\n    depends_on: [nope]\n", 2, "unknown service 'nope'"),
    ],
)
def test_malformed_file_is_one_error_with_file_line_and_key(tmp_path: Path, text: str, line: int, words: str) -> None:
    write(tmp_path / "compose.yaml", text)
    with pytest.raises(ConfigError) as caught:
        load(FakeProject(tmp_path))
    assert caught.value.where == f"{tmp_path / 'compose.yaml'}:{line}"
    assert words in caught.value.message


def test_secret_files_must_be_0600(tmp_path: Path) -> None:
    write(
        tmp_path / "compose.yaml",
        "services:\n  web:\n    image: x\n    secrets: [pw]\nsecrets:\n  pw:\n    file: pw.txt\n",
    )
    secret = tmp_path / "pw.txt"
    secret.write_text("hunter2\n")
    os.chmod(secret, 0o644)
    model = load(FakeProject(tmp_path))
    with pytest.raises(ConfigError, match="mode 0644, readable by others"):
        check_secrets(model, ["web"])
    os.chmod(secret, 0o600)
    check_secrets(model, ["web"])
    assert "hunter2" not in json.dumps(masked(model))


def test_unknown_service_names_the_known_ones(tmp_path: Path) -> None:
    write(tmp_path / "compose.yaml", BASE)
    with pytest.raises(ConfigError, match="unknown service 'nope'") as caught:
        load(FakeProject(tmp_path)).order(["nope"])
    assert "web" in str(caught.value.hint)


def test_without_an_engine_the_plugin_says_what_to_install(tmp_path: Path) -> None:
    import sys

    from tests.conftest import run_help

    write(tmp_path / "compose.yaml", BASE)
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'demo'\nversion = '0'\n")
    result = run_help("compose", "ps", cwd=tmp_path, env={"PATH": str(Path(sys.executable).parent)})
    assert result.returncode == 1
    assert "plugin 'compose' is not available: needs podman or docker on PATH" in result.stderr
    assert "apt-get install podman" in result.stderr
