"""Pid files in .help/run/, so `run --status` and `run stop` work from another terminal.

supervisor.json names the `help.py run` process; <name>.pid (JSON) names each
child, whose pid is also its process group. A pid is only trusted while the
process with that pid still has the start time recorded (no pid reuse mix-ups).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from pathlib import Path

from helper.fsutil import atomic_write
from helper.proc import signal_group

TYPE_CHECKING = False  # typing itself costs ~5 ms to import; annotations are strings here
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any

SUPERVISOR = "supervisor.json"


def start_ticks(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (Linux), None if unknown or gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2 :].split()
    try:
        return int(fields[19])
    except (IndexError, ValueError):
        return None


def alive(pid: int, ticks: int | None = None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    proc_stat = Path(f"/proc/{pid}/stat")
    if proc_stat.exists():
        with contextlib.suppress(OSError, IndexError):
            text = proc_stat.read_text()
            if text[text.rfind(")") + 2] == "Z":
                return False
    return ticks is None or start_ticks(pid) in (None, ticks)


def group_members(pgid: int) -> list[int]:
    """Pids whose process group is `pgid` (Linux /proc), for checks and clean-up."""
    return [pid for pid, fields in _proc_stats() if len(fields) > 2 and fields[2] == str(pgid) and fields[0] != "Z"]


def _proc_stats() -> Iterator[tuple[int, list[str]]]:
    """(pid, the fields of /proc/PID/stat after the command name) of every process (none off Linux)."""
    for entry in Path("/proc").iterdir() if Path("/proc").is_dir() else []:
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "stat").read_text()
        except OSError:
            continue
        yield int(entry.name), text[text.rfind(")") + 2 :].split()


def write_json(path: Path, data: dict[str, Any]) -> None:
    atomic_write(path, json.dumps(data, indent=1), fsync=False)


def write_supervisor(run_dir: Path, profile: str, names: list[str]) -> None:
    pid = os.getpid()
    write_json(
        run_dir / SUPERVISOR,
        {"pid": pid, "ticks": start_ticks(pid), "started": time.time(), "profile": profile, "processes": names},
    )


def write_pid(
    run_dir: Path, name: str, pid: int, command: str, restarts: int, tree: list[tuple[int, int]] | None = None
) -> None:
    """Record a child; `tree` (pid, ticks) is what runs below it, also outside its group (setsid)."""
    write_json(
        run_dir / f"{name}.pid",
        {
            "name": name,
            "pid": pid,
            "ticks": start_ticks(pid),
            "started": time.time(),
            "command": command,
            "restarts": restarts,
            "tree": [list(item) for item in tree or []],
        },
    )


def remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def read(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
        return data if isinstance(data, dict) and isinstance(data.get("pid"), int) else None
    except (OSError, ValueError):
        return None


def status(run_dir: Path) -> dict[str, Any]:
    """The supervisor and each process: pid, alive, uptime, command."""
    sup = read(run_dir / SUPERVISOR)
    now = time.time()
    processes = []
    for path in sorted(run_dir.glob("*.pid")) if run_dir.is_dir() else []:
        info = read(path)
        if info is None:
            continue
        up = alive(info["pid"], info.get("ticks"))
        processes.append(
            {
                "name": info.get("name", path.stem),
                "pid": info["pid"],
                "alive": up,
                "uptime": round(now - float(info.get("started", now)), 1) if up else None,
                "restarts": info.get("restarts", 0),
                "command": info.get("command", ""),
            }
        )
    running = bool(sup and alive(sup["pid"], sup.get("ticks")))
    return {
        "running": running,
        "supervisor": {
            "pid": sup["pid"],
            "profile": sup.get("profile"),
            "uptime": round(now - float(sup.get("started", now)), 1),
        }
        if sup and running
        else None,
        "processes": processes,
    }


def stop_all(run_dir: Path, grace: float) -> dict[str, Any]:
    """Stop a running `help.py run` (SIGTERM, it stops its children), then any orphan left."""
    sup = read(run_dir / SUPERVISOR)
    stopped_supervisor = None
    if sup and alive(sup["pid"], sup.get("ticks")):
        os.kill(sup["pid"], signal.SIGTERM)
        deadline = time.monotonic() + grace + 5
        while time.monotonic() < deadline and alive(sup["pid"], sup.get("ticks")):
            time.sleep(0.05)
        stopped_supervisor = sup["pid"] if not alive(sup["pid"], sup.get("ticks")) else None
    orphans = []
    for path in sorted(run_dir.glob("*.pid")) if run_dir.is_dir() else []:
        info = read(path)
        tree = tree_of(info) if info else []
        if info and (
            alive(info["pid"], info.get("ticks")) or group_members(info["pid"]) or any(alive(*t) for t in tree)
        ):
            orphans.append(info.get("name", path.stem))
            stop_group(info["pid"], grace)
            stop_pids(tree, grace)  # what left the group (setsid) is stopped by pid
        remove(path)
    if not (sup and alive(sup["pid"], sup.get("ticks"))):
        remove(run_dir / SUPERVISOR)
    return {"supervisor": stopped_supervisor, "orphans_stopped": orphans}


def stop_group(pgid: int, grace: float) -> bool:
    """SIGTERM the group, wait `grace`, SIGKILL what is left. True if SIGKILL was needed."""
    if not signal_group(pgid, signal.SIGTERM):
        return False
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not group_members(pgid):
            return False
        time.sleep(0.05)
    return signal_group(pgid, signal.SIGKILL)


def process_table() -> dict[int, tuple[int, int]]:
    """Every live process: pid -> (parent pid, start ticks), from /proc (empty elsewhere)."""
    table: dict[int, tuple[int, int]] = {}
    for pid, fields in _proc_stats():
        with contextlib.suppress(IndexError, ValueError):
            if fields[0] != "Z":
                table[pid] = (int(fields[1]), int(fields[19]))
    return table


def descendants(pid: int, table: dict[int, tuple[int, int]] | None = None) -> list[int]:
    """The pids below `pid` in the process tree, whatever their group or session."""
    table = process_table() if table is None else table
    children: dict[int, list[int]] = {}
    for child, (parent, _) in table.items():
        children.setdefault(parent, []).append(child)
    found: list[int] = []
    todo = list(children.get(pid, []))
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return sorted(found)


def listening_inodes(port: int) -> set[str]:
    """The socket inodes listening on TCP `port` (IPv4 and IPv6), from /proc/net/tcp*."""
    inodes = set()
    for name in ("tcp", "tcp6"):
        try:
            lines = Path(f"/proc/net/{name}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 9 and fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    return inodes


def socket_holders(inodes: set[str], pids: list[int] | None = None) -> list[int]:
    """Which of `pids` (default: every process) hold one of the socket `inodes` open."""
    wanted = {f"socket:[{inode}]" for inode in inodes}
    candidates = pids if pids is not None else [int(e.name) for e in Path("/proc").iterdir() if e.name.isdigit()]
    holders = []
    for pid in candidates:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            with contextlib.suppress(OSError):
                if os.readlink(f"/proc/{pid}/fd/{fd}") in wanted:
                    holders.append(pid)
                    break
    return holders


def describe_pid(pid: int) -> str:
    """`pid N (command line)` for messages."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        cmdline = ""
    return f"pid {pid}" + (f" ({cmdline[:80]})" if cmdline else "")


def stop_pids(pids: list[tuple[int, int | None]], grace: float) -> None:
    """SIGTERM each (pid, ticks) still alive, wait `grace`, SIGKILL the rest."""
    live = [(p, t) for p, t in pids if alive(p, t)]
    for pid, _ in live:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while live and time.monotonic() < deadline:
        live = [(p, t) for p, t in live if alive(p, t)]
        time.sleep(0.05)
    for pid, ticks in live:
        if alive(pid, ticks):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)


def tree_of(info: dict[str, Any]) -> list[tuple[int, int | None]]:
    """A pid file's recorded process tree (pid, ticks) plus what lives below its leader now."""
    recorded = [(int(p), t) for p, t in info.get("tree", []) if isinstance(p, int)]
    now = process_table()
    roots = [info["pid"], *(p for p, _ in recorded)]
    for root in roots:
        recorded += [(p, now[p][1]) for p in descendants(root, now) if p in now]
    return list(dict.fromkeys(recorded))
