"""`sandbox check` and doctor: which backends work here and which parts of the policy each enforces.

Each installed backend runs one probe that reads its own /proc/self/status
and network interfaces from inside; what the probe sees (uid, capabilities,
no_new_privs, seccomp mode, interfaces) is what the policy really gets. The
double sandbox (`--double`: bwrap inside a podman container) is probed the same
way. For a normal user, a backend that refuses that user (firejail: nobody, no
login shell, not in firejail.users; rootless podman: no /etc/subuid range) is
reported as refused, with why and what would allow it, without running it.
"""

from __future__ import annotations

import os
import tempfile

from helper.checks import Check
from helper.ui import console
from plugins.sandbox import backends, limits
from plugins.sandbox.policy import Policy

TYPE_CHECKING = False  # typing costs start-up time; annotations are strings here
if TYPE_CHECKING:
    from typing import Any

PROBE = 'grep -E "^(Uid|CapEff|NoNewPrivs|Seccomp):" /proc/self/status; echo "net: $(ls /sys/class/net 2>/dev/null)"'


NAMES = (*backends.BACKENDS, backends.DOUBLE)  # every backend `sandbox run` can be asked for


def _parts(name: str) -> tuple[str, ...]:
    return ("podman", "bwrap") if name == backends.DOUBLE else (name,)


def user_row() -> dict[str, Any]:
    """Who the check ran as: {"name", "uid", "root"}."""
    import pwd

    uid = os.geteuid()
    try:
        user = pwd.getpwuid(uid).pw_name
    except KeyError:
        user = str(uid)
    return {"name": user, "uid": uid, "root": uid == 0}


def probe(name: str) -> dict[str, Any]:
    """What one backend enforces on this host: {"backend", "works", "enforced": [...], "missing": [...], "error",
    "refused": {"reason", "hint"} or None (the backend refuses this user)}."""
    from plugins.sandbox import api

    row: dict[str, Any] = {
        "backend": name, "works": False, "enforced": [], "missing": [], "error": None, "refused": None,
    }  # fmt: skip
    absent = [part for part in _parts(name) if not backends.binary(part)]
    if absent:
        packages = " ".join(backends.PACKAGES[part] for part in absent)
        row["error"] = f"not installed (sudo apt-get install {packages})"
        return row
    refused = backends.refusal(name)
    if refused is not None:
        row["refused"] = {"reason": refused[0], "hint": refused[1]}
        row["error"] = f"refuses user {user_row()['name']}: {refused[0]}"
        return row
    with tempfile.TemporaryDirectory(prefix="help-sandbox-check-") as tmp:
        try:
            result = api.run(["/bin/sh", "-c", PROBE], Policy(workdir=tmp, timeout=60), backend=name)
        except Exception as exc:
            row["error"] = str(exc)
            return row
    if result.exit_code != 0:
        row["error"] = (result.stderr.strip().splitlines() or [f"exit code {result.exit_code}"])[-1]
        return row
    seen = dict(line.split(":", 1) for line in result.stdout.splitlines() if ":" in line)
    uid = (seen.get("Uid", "").split() or ["?"])[1]
    facts = {
        "uid 65534 (unprivileged)": uid != "0",
        "no capabilities": seen.get("CapEff", "").strip().strip("0") == "",
        "no new privileges": seen.get("NoNewPrivs", "").strip() == "1",
        "seccomp filter": seen.get("Seccomp", "").strip() == "2",
        "no network": seen.get("net", "").strip() in ("", "lo"),
        "process limit": name.startswith("podman") or os.geteuid() != 0 or limits.PidsCgroup.available(),
        "sized /tmp (disk)": name != "firejail",
        "pid namespace, env scrubbed, secrets hidden, rlimits, timeout": True,
    }
    row["works"] = True
    row["enforced"] = [k for k, ok in facts.items() if ok]
    row["missing"] = [k for k, ok in facts.items() if not ok]
    return row


def report(preferred: str | None) -> int:
    rows = [probe(name) for name in ([preferred] if preferred else NAMES)]
    chosen = next((r["backend"] for r in rows if r["works"] and r["backend"] in backends.BACKENDS), None)
    user = user_row()

    def render(data: dict[str, Any]) -> None:
        width = max(len(n) for n in NAMES)
        for row in data["backends"]:
            if row["refused"]:
                console.echo(f"{row['backend']:{width}} refused for user {user['name']}: {row['refused']['reason']}")
                console.echo(f"{'':{width}} to allow it: {row['refused']['hint']}")
                continue
            if not row["works"]:
                console.echo(f"{row['backend']:{width}} unavailable: {row['error']}")
                continue
            console.echo(f"{row['backend']:{width}} works; enforces: {', '.join(row['enforced'])}")
            if row["missing"]:
                console.echo(f"{'':{width}} missing here: {', '.join(row['missing'])}")
        who = "root" if user["root"] else f"user {user['name']} (uid {user['uid']})"
        console.echo(f"checked as {who}; `sandbox run --double` is {backends.DOUBLE}")
        console.echo(f"default backend: {data['default'] or 'none -- sandbox run will refuse to run'}")

    console.result({"backends": rows, "default": chosen, "user": user}, render)
    return 0 if chosen else 1


def doctor_checks() -> list[Check]:
    out = []
    for name in NAMES:
        if not all(backends.binary(part) for part in _parts(name)):
            continue
        row = probe(name)
        if row["refused"]:
            user = user_row()["name"]
            out.append(Check(f"sandbox {name}", "warn", f"refused for user {user}: {row['refused']['reason']}",
                             row["refused"]["hint"]))  # fmt: skip
        elif not row["works"]:
            out.append(Check(f"sandbox {name}", "fail", f"installed but cannot isolate: {row['error']}", _hint(name)))
        elif row["missing"]:
            out.append(Check(f"sandbox {name}", "warn", "missing here: " + ", ".join(row["missing"]), _hint(name)))
        else:
            out.append(Check(f"sandbox {name}", "ok", "enforces the whole policy"))
    if not out:
        out.append(Check("sandbox", "warn", "no backend: untrusted code cannot be isolated", _hint("bwrap")))
    return out


def _hint(name: str) -> str:
    if name == "bwrap":
        return "enable unprivileged user namespaces (sysctl user.max_user_namespaces=15000) or run as root"
    if name == "firejail":
        return "prefer --backend bwrap or podman for a uid drop and a sized /tmp"
    if name == backends.DOUBLE:
        return "both layers must work: check `sandbox check --backend podman` and bwrap inside a container"
    return "check `podman info` (runc, cgroups)"
