"""compose: the project's services in containers (podman or docker), kept healthy by help.py."""

from helper.config_schema import Setting
from helper.plugins import Plugin

PLUGIN = Plugin(
    name="compose",
    description="run the compose file's services on podman or docker; health monitor, restarts, events",
    commands={"compose": ("plugins.compose.command", "run the project's containers (up, ps, logs, watch, ...)")},
    binaries=(("podman", "docker"),),
    install_hint="sudo apt-get install podman   (or install docker)",
    checks="plugins.compose.command:checks",
    prefetch="plugins.compose.prefetch:start",
    fast={"ps": "plugins.compose.fast:ps"},  # `compose ps` starts without argparse or the model code (helper.fast)
    settings={
        "engine": Setting("choice", "auto", "container engine", choices=("auto", "podman", "docker")),
        "monitor_interval": Setting("float", 2.0, "seconds between the monitor's checks"),
        "restart_backoff": Setting("float", 0.5, "first delay before restarting a service that keeps failing"),
        "restart_backoff_max": Setting("float", 30.0, "longest delay between restarts"),
        "breaker_threshold": Setting("int", 5, "restarts within breaker_window that leave a service down"),
        "breaker_window": Setting("float", 60.0, "seconds the breaker counts restarts over (and stays open)"),
        "cpu_warn": Setting("float", 90.0, "CPU percent above which a warning event is written"),
        "mem_warn": Setting("float", 90.0, "memory percent above which a warning event is written"),
    },
)
