"""compose on real podman: `down` and `restart` while a monitor runs. The monitor must not bring back
what the user removed: it stops managing those services, says why in an event, and exits once none are left."""

from __future__ import annotations

import subprocess
import time

from tests.compose.test_podman import INTERVAL, Proj, compose, image, proj  # noqa: F401  (fixtures)

TWO = """
  api:
    image: IMAGE
    command: [sleep, '1000']
  side:
    image: IMAGE
    command: [sleep, '1000']
"""


def test_down_while_watching_keeps_services_down_and_ends_the_monitor(proj: Proj) -> None:  # noqa: F811
    compose(proj, TWO)
    assert proj.help("compose", "up").returncode == 0
    watcher = proj.watch()
    down = proj.help("compose", "down")
    assert down.returncode == 0, down.stderr
    stopped = proj.wait_for(lambda e: e["kind"] == "monitor-stop", 20)
    assert stopped.get("reason") == "compose down", stopped
    assert watcher.wait(timeout=20) == 0
    time.sleep(4 * INTERVAL)
    assert proj.state("api") == "" and proj.state("side") == ""
    assert not [e for e in proj.events() if e["kind"] == "restart"]
    released = [e for e in proj.events() if e["kind"] == "released"]
    assert sorted(e["service"] for e in released) == ["api", "side"]
    assert all(e["reason"] == "compose down" for e in released)


def test_down_of_one_service_while_watching_leaves_the_monitor_on_the_others(proj: Proj) -> None:  # noqa: F811
    compose(proj, TWO)
    assert proj.help("compose", "up").returncode == 0
    watcher = proj.watch()
    assert proj.help("compose", "down", "side").returncode == 0
    proj.wait_for(lambda e: e["kind"] == "released" and e["service"] == "side", 20)
    time.sleep(4 * INTERVAL)
    assert proj.state("side") == ""
    assert watcher.poll() is None  # still watching api
    subprocess.run(["podman", "kill", f"{proj.name}-api"], capture_output=True, check=True)
    proj.wait_for(lambda e: e["kind"] == "restart" and e["service"] == "api", 20)
    assert not [e for e in proj.events() if e["kind"] == "restart" and e["service"] == "side"]
    up = proj.help("compose", "up", "side")  # the user's `up` lifts the stop: a new monitor manages it again
    assert up.returncode == 0 and proj.state("side") == "running"


def test_restart_while_watching_is_not_followed_by_a_second_restart(proj: Proj) -> None:  # noqa: F811
    compose(proj, TWO)
    assert proj.help("compose", "up").returncode == 0
    watcher = proj.watch()
    for _ in range(3):
        restarted = proj.help("compose", "restart", "api")
        assert restarted.returncode == 0, restarted.stderr
        time.sleep(4 * INTERVAL)
    requested = [e for e in proj.events() if e["kind"] == "restart"]
    assert [e.get("reason") for e in requested] == ["requested"] * 3, requested  # none by the monitor
    assert proj.state("api") == "running" and watcher.poll() is None
