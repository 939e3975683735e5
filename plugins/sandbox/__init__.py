"""sandbox: run untrusted code isolated (bubblewrap, firejail or podman): no network, nothing it was not given."""

from helper.plugins import Plugin

PLUGIN = Plugin(
    name="sandbox",
    description="run untrusted code isolated: no network, read-only project, hidden secrets, uid 65534, limits",
    commands={"sandbox": ("plugins.sandbox.command", "run a command in a sandbox (bubblewrap, firejail, podman)")},
    binaries=(("bwrap", "firejail"),),  # podman alone is used when asked for (--backend podman)
    install_hint="sudo apt-get install bubblewrap   (or: firejail, podman)",
    checks="plugins.sandbox.command:checks",
    api="plugins.sandbox.api",
    fast={"run": "plugins.sandbox.fast:run"},  # `sandbox run` starts without argparse (helper.fast)
)
