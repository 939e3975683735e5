"""What a sandboxed command may touch: the backend-neutral Policy.

The view of the file system is built from an allow list (system directories,
then the policy's read-only and writable paths), never from the host's root:
home directories, /root and the rest are simply absent, and the secrets that
live inside allowed directories (/etc/shadow, sudoers, ssh host keys ...) are
covered with an empty file or directory. The environment is scrubbed to an
allow list before the backend starts, so even the backend's own init sees no
secret of the caller.
"""

from __future__ import annotations

import os
from pathlib import Path

from helper.records import Factory, Record

# System directories the command may read (those that exist); symlinks such as /bin -> usr/bin are kept as symlinks.
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc")
# Secrets inside the allowed directories: covered by an empty file or an empty read-only directory.
SECRET_GLOBS = (
    "/etc/shadow",
    "/etc/shadow-",
    "/etc/gshadow",
    "/etc/gshadow-",
    "/etc/sudoers",
    "/etc/sudoers.d",
    "/etc/ssh/ssh_host_*_key",
    "/etc/ssl/private",
    "/etc/security/opasswd",
    "/etc/machine-id",
    "/etc/containers/auth.json",
    "/etc/docker",
    "/etc/credstore",
    "/etc/credstore.encrypted",
    "/etc/wireguard",
    "/etc/NetworkManager/system-connections",
    "/etc/.pwd.lock",
    "/etc/cloudsdk",
)
KEPT_ENV = ("LANG", "LC_ALL", "LC_CTYPE", "TERM", "TZ", "PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE", "NO_COLOR")
SANDBOX_PATH = "/usr/local/bin:/usr/bin:/bin"
NOBODY = 65534

MiB = 1024 * 1024


class Policy(Record):
    """Everything a sandboxed command is given; anything not listed here it cannot reach.

    A Record, not a dataclass: `import dataclasses` costs more than the whole sandbox start.
    """

    workdir: Path  # the command starts here; writable unless it lies in a read-only path (e.g. the project)
    readonly: list[Path] = Factory(list)  # visible, not writable (e.g. the project)
    writable: list[Path] = Factory(list)  # visible and writable
    network: bool = False
    env: dict[str, str] = Factory(dict)  # extra variables set inside
    mem: int = 1024 * MiB  # bytes of address space per process (RLIMIT_AS) / container memory
    procs: int = 256  # processes and threads (pids cgroup, else RLIMIT_NPROC of the unprivileged uid)
    cpu: int = 60  # CPU seconds (RLIMIT_CPU: SIGXCPU, then SIGKILL a second later)
    disk: int = 256 * MiB  # size of every writable tmpfs (/tmp) and the largest file (RLIMIT_FSIZE)
    timeout: float | None = 300.0  # wall clock seconds; the whole process tree is killed
    files: int = 256  # open files per process (RLIMIT_NOFILE)
    # (target, path) symlinks recreated inside: the links between a program and its real file that lie outside
    # the visible paths (e.g. .venv/bin/python -> /tmp/x/bin/python -> /root/.pyenv/.../python3.11)
    links: list[tuple[str, str]] = Factory(list)

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.workdir = Path(self.workdir).resolve()
        self.readonly = [Path(p).resolve() for p in self.readonly]
        self.writable = [Path(p).resolve() for p in self.writable]

    def replace(self, **changes: object) -> Policy:
        """A copy with `changes` (as dataclasses.replace)."""
        return Policy(**{**{n: getattr(self, n) for n in self.__fields__}, **changes})

    def writable_paths(self) -> list[Path]:
        """Where the command may write: the `writable` paths, and the workdir unless a read-only path holds it."""
        covered = any(self.workdir == p or p in self.workdir.parents for p in self.readonly)
        return [*([] if covered else [self.workdir]), *self.writable]

    def to_dict(self) -> dict[str, object]:
        return {
            "workdir": str(self.workdir),
            "readonly": [str(p) for p in self.readonly],
            "writable": [str(p) for p in self.writable],
            "network": self.network,
            "mem": self.mem,
            "procs": self.procs,
            "cpu": self.cpu,
            "disk": self.disk,
            "timeout": self.timeout,
        }


def sandbox_env(policy: Policy) -> dict[str, str]:
    """The whole environment the backend (and so the command) starts with."""
    env = {k: os.environ[k] for k in KEPT_ENV if k in os.environ}
    env.update({"PATH": SANDBOX_PATH, "HOME": "/tmp", "TMPDIR": "/tmp", "USER": "nobody", "LOGNAME": "nobody"})
    env.update(policy.env)
    return env


def system_dirs() -> list[tuple[str, str | None]]:
    """(path, symlink target or None) of each allowed system directory present here."""
    found: list[tuple[str, str | None]] = []
    for path in SYSTEM_DIRS:
        if os.path.islink(path):
            found.append((path, os.readlink(path)))
        elif os.path.isdir(path):
            found.append((path, None))
    return found


def secrets() -> list[tuple[str, bool]]:
    """(path, is a directory) of each secret present under the allowed directories."""
    found: dict[str, bool] = {}
    for pattern in SECRET_GLOBS:
        for path in _matches(pattern):
            if not os.path.islink(path):
                found[path] = os.path.isdir(path)
    return sorted(found.items())


def _matches(pattern: str) -> list[str]:
    """The paths a SECRET_GLOBS entry names: wildcards in the last part only (glob's import is not needed)."""
    if "*" not in pattern:
        return [pattern] if os.path.lexists(pattern) else []
    import fnmatch  # already loaded with pathlib

    folder, name = os.path.split(pattern)
    try:
        entries = os.listdir(folder)
    except OSError:
        return []
    return [os.path.join(folder, e) for e in sorted(entries) if fnmatch.fnmatchcase(e, name) and not e.startswith(".")]


def prlimit_args(policy: Policy) -> list[str]:
    """util-linux prlimit options for the policy's per-process limits (soft:hard)."""
    return [
        f"--as={policy.mem}",
        f"--cpu={policy.cpu}:{policy.cpu + 1}",
        f"--fsize={policy.disk}",
        f"--nproc={policy.procs}",
        f"--nofile={policy.files}",
        "--core=0",
    ]
