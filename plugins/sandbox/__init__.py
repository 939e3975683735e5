"""sandbox: run a command isolated with bubblewrap or firejail (no network, read-only project)."""

from helper.plugins import Plugin

PLUGIN = Plugin(
    name="sandbox",
    description="run untrusted code isolated: no network, read-only project, private /tmp",
    commands={"sandbox": ("plugins.sandbox.command", "run a command in a sandbox (bubblewrap or firejail)")},
    binaries=(("bwrap", "firejail"),),
    install_hint="sudo apt-get install bubblewrap   (or: sudo apt-get install firejail)",
    checks="plugins.sandbox.command:checks",
)
