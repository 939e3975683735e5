"""Real compose files without an engine: YAML anchors/aliases/merge keys, multi-line flow,
x-* keys, profiles, long depends_on, service keys turned into engine flags, and Apache
Airflow's official docker-compose.yaml (tests/fixtures/compose/airflow, Apache-2.0)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from helper.errors import ConfigError
from plugins.compose.engine import run_argv
from plugins.compose.model import load
from plugins.compose.yamlish import loads
from tests.compose.test_model import FakeProject
from tests.conftest import run_help, write

AIRFLOW = Path(__file__).parent.parent / "fixtures" / "compose" / "airflow" / "docker-compose.yaml"


def test_anchors_aliases_and_merge_keys_explicit_keys_win_in_any_order() -> None:
    doc = loads(
        """
base: &base
  image: a
  env: {X: "1", Y: "2"}
other: &other {image: b, tty: true, extra: o}
before:
  image: mine
  <<: *base
after:
  <<: [*other, *base]
  image: mine
list: &items [1, 2]
again: *items
""",
        "f.yaml",
    )
    assert doc["before"] == {"env": {"X": "1", "Y": "2"}, "image": "mine"}
    assert doc["after"] == {"tty": True, "extra": "o", "env": {"X": "1", "Y": "2"}, "image": "mine"}
    assert doc["again"] == [1, 2]
    assert doc["after"].lines["env"] == 4  # a merged key keeps the line where it is written


def test_anchor_alone_on_the_line_after_its_key_and_multiline_flow() -> None:
    doc = loads(
        """
x-common:
  &common
  # a comment between the anchor and the mapping
  image: app
  environment:
    &env
    A: "1"
svc:
  <<: *common
  environment:
    <<: *env
    B: "2"
  command: ["sh", "-c",
            "echo hi",
     'x, y']
  ports: [
    "80:80"
  ]
""",
        "f.yaml",
    )
    assert doc["svc"]["image"] == "app"
    assert doc["svc"]["environment"] == {"A": "1", "B": "2"}
    assert doc["svc"]["command"] == ["sh", "-c", "echo hi", "x, y"]
    assert doc["svc"]["ports"] == ["80:80"]
    assert doc["svc"].lines["command"] == 14


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("a: 1\nb: *nope\n", 2, "unknown alias *nope"),
        ("a:\n  <<: *missing\n", 2, "unknown alias *missing"),
        ("a: &x 1\nb:\n  <<: *x\n", 3, "`<<` merges a mapping"),
        ("a: !custom []\n", 1, "YAML tags (!custom)"),
        ("a:\n  - !!str x\n", 2, "YAML tags"),
        ("a: [1, !x 2]\n", 1, "YAML tags"),
        ("a: [1,\n  2\n", 1, "unclosed '['"),
    ],
)
def test_yaml_errors_name_file_and_line(text: str, line: int, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        loads(text, "f.yaml")
    assert caught.value.where == f"f.yaml:{line}"
    assert words in caught.value.message


def test_reset_and_override_tags_in_a_profile_file(tmp_path: Path) -> None:
    write(
        tmp_path / "compose.yaml",
        """
        services:
          web:
            image: app
            ports: ["8080:80"]
            environment: {A: "1", B: "2"}
            healthcheck: {test: [CMD, "true"]}
            command: !override [sleep, "1"]
        """,
    )
    write(
        tmp_path / "compose.test.yaml",
        """
        services:
          web:
            ports: !override
              - "9090:90"
            environment: !override {C: "3"}
            healthcheck: !reset
        """,
    )
    web = load(FakeProject(tmp_path, "test")).services["web"]
    assert [p.spec() for p in web.ports] == ["9090:90/tcp"]  # replaced, not appended
    assert web.environment == {"C": "3"} and web.health is None and web.command == ["sleep", "1"]
    dev = load(FakeProject(tmp_path)).services["web"]
    assert dev.environment == {"A": "1", "B": "2"} and dev.health is not None


def test_extension_keys_profiles_long_depends_on_and_flags(tmp_path: Path) -> None:
    write(
        tmp_path / "compose.yaml",
        """
        x-top: {ignored: true}
        name: demo
        services:
          db:
            image: db
            x-note: ignored
            healthcheck: {test: [CMD, "true"]}
            volumes: ["data:/var/lib/db", {type: bind, source: ./conf, target: /conf, read_only: true}]
          init:
            image: app
            env_file: [.env.init, {path: .env.missing, required: false}]
          web:
            image: app
            depends_on:
              db: {condition: service_healthy}
              init: {condition: service_completed_successfully, required: true}
              tools: {condition: service_started, required: false}
              elsewhere: {required: false}
            networks:
              front:
                aliases: [www]
            init: true
            extra_hosts: {cache.internal: 10.0.0.7}
            ulimits: {nofile: {soft: 10, hard: 20}, nproc: 64}
            stop_grace_period: 1m
            pull_policy: if_not_present
            logging: {driver: json-file}
            deploy:
              replicas: 1
              resources:
                limits: {memory: 1g, cpus: "1.5"}
                reservations: {memory: 1g}
            links: [db]
          tools:
            image: app
            profiles: [debug]
          sidecar:
            image: app
            network_mode: service:db
        networks:
          front:
        volumes:
          data:
            name: shared-data
        """,
    )
    (tmp_path / ".env.init").write_text("FROM_FILE=yes\n")
    model = load(FakeProject(tmp_path))
    web = model.services["web"]
    assert model.services["init"].environment == {"FROM_FILE": "yes"}
    assert model.inputs == [str(tmp_path / ".env.init"), str(tmp_path / ".env.missing")]
    assert web.conditions == {
        "db": "service_healthy",
        "init": "service_completed_successfully",
        "tools": "service_started",
        "elsewhere": "service_started",
    }
    assert web.required == {"db": True, "init": True, "tools": False, "elsewhere": False}
    assert "elsewhere" not in web.depends_on and "'elsewhere' is not defined (optional)" in "".join(model.warnings)
    assert model.order() == ["db", "init", "web", "sidecar"]
    assert model.services["sidecar"].depends_on == ["db"]  # tools: profile not active, not required
    assert model.order(["tools"]) == ["tools"]
    assert "tools" in load(FakeProject(tmp_path, "debug")).order()  # help.py's active profile counts
    argv = run_argv(model, web)
    joined = " ".join(argv)
    assert "--network demo_front --network-alias web --network-alias www" in joined
    assert "--init" in argv and "--add-host cache.internal:10.0.0.7" in joined
    assert "--ulimit nofile=10:20 --ulimit nproc=64" in joined and "--stop-timeout 60" in joined
    assert "--pull missing" in joined and "--memory 1g --cpus 1.5" in joined
    db = run_argv(model, model.services["db"])
    assert "shared-data:/var/lib/db" in db and f"{tmp_path}/conf:/conf:ro" in db
    assert "--network demo_default --network-alias db" in " ".join(db)
    sidecar = run_argv(model, model.services["sidecar"])
    assert "--network container:demo-db" in " ".join(sidecar) and "--network-alias" not in sidecar
    warned = "\n".join(model.warnings)
    assert "deploy.resources.reservations is not honoured" in warned and "services.web.links" in warned
    assert "logging" not in warned and "replicas" not in warned
    assert f"{tmp_path / 'compose.yaml'}:" in model.warnings[0]


@pytest.mark.parametrize(
    ("body", "line", "words"),
    [
        ("    depends_on:\n      db: {condition: service_happy}\n  db:\n    image: x\n", 5, "condition"),
        ("    volumes: ['nope:/data']\n", 4, "named volume 'nope' is not declared"),
        ("    networks: [nope]\n", 4, "network 'nope' is not declared"),
        ("    network_mode: host\n    networks: [default]\n", 5, "network_mode and networks"),
        ("    init: yes-please\n", 4, "services.web.init: must be true or false"),
        ("    network_mode: service:nope\n", 2, "network_mode: unknown service 'nope'"),
        ("    pull_policy: sometimes\n", 4, "pull_policy"),
        ("    depends_on:\n      db: {condition: service_healthy}\n  db:\n    image: x\n    profiles: [p]\n", 1,
         "'db' is only in profiles p"),
    ],
)  # fmt: skip
def test_service_key_errors_name_file_and_line(tmp_path: Path, body: str, line: int, words: str) -> None:
    write(tmp_path / "compose.yaml", "services:\n  web:\n    image: x\n" + body)
    with pytest.raises(ConfigError) as caught:
        load(FakeProject(tmp_path)).order()
    assert words in caught.value.message
    if line > 1:
        assert caught.value.where == f"{tmp_path / 'compose.yaml'}:{line}"


def test_airflow_official_compose_file_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COMPOSE_PROFILES", raising=False)
    shutil.copy(AIRFLOW, tmp_path / "docker-compose.yaml")
    model = load(FakeProject(tmp_path))
    default = model.order()
    assert "airflow-cli" not in default and "flower" not in default
    assert default.index("airflow-init") < default.index("airflow-worker")
    assert default.index("redis") < default.index("airflow-init")
    worker = model.services["airflow-worker"]
    assert worker.environment["DUMB_INIT_SETSID"] == "0"
    assert worker.environment["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert worker.conditions == {
        "redis": "service_healthy",
        "postgres": "service_healthy",
        "airflow-init": "service_completed_successfully",
    }
    assert worker.image == "apache/airflow:|version|" and worker.user == "50000:0"
    assert f"{model.name}_postgres-db-volume:/var/lib/postgresql/data" in model.services["postgres"].volumes
    assert model.services["airflow-init"].user == "0:0"  # the service's own key wins over the merged one
    assert "flower" in model.order(["flower"])
    monkeypatch.setenv("COMPOSE_PROFILES", "debug,flower")
    assert {"airflow-cli", "flower"} <= set(load(FakeProject(tmp_path)).order())
    # the CLI: `compose config --json` shows the merged anchors
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'air'\nversion = '0'\n")
    shown = run_help("--json", "compose", "config", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    services = json.loads(shown.stdout)["services"]
    env = services["airflow-worker"]["environment"]
    assert env["DUMB_INIT_SETSID"] == "0" and env["AIRFLOW__CELERY__BROKER_URL"] == "redis://:@redis:6379/0"
    assert services["airflow-webserver"]["image"] == "apache/airflow:|version|"
    assert set(services["airflow-webserver"]["depends_on"]) == {"redis", "postgres", "airflow-init"}


def test_cached_model_keeps_networks_profiles_warnings_and_watches_env_files(tmp_path: Path) -> None:
    import os

    write(
        tmp_path / "compose.yaml",
        """
        name: demo
        services:
          web:
            image: app
            env_file: .env.web
            networks: [front]
            links: [db]
          db:
            image: db
            profiles: [extra]
        networks:
          front:
        """,
    )
    (tmp_path / ".env.web").write_text("MODE=one\n")
    old = 1_600_000_000
    for name in ("compose.yaml", ".env.web"):
        os.utime(tmp_path / name, (old, old))
    first = load(FakeProject(tmp_path))
    again = load(FakeProject(tmp_path))  # from the cache
    assert again.networks == first.networks == {"default": "demo_default", "front": "demo_front"}
    assert again.warnings == first.warnings and "links" in again.warnings[0]
    assert again.order() == ["web"] and "--network demo_front" in " ".join(run_argv(again, again.services["web"]))
    (tmp_path / ".env.web").write_text("MODE=second\n")
    os.utime(tmp_path / ".env.web", (old, old))
    assert load(FakeProject(tmp_path)).services["web"].environment == {"MODE": "second"}
