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

    A Record, not a dataclass: `import dataclasses` costs more than the whole sandbox start. Paths are
    given as str or os.PathLike and kept as resolved absolute strings (pathlib is not imported on the
    start path of `sandbox run`).
    """

    workdir: str  # the command starts here; writable unless it lies in a read-only path (e.g. the project)
    readonly: list[str] = Factory(list)  # visible, not writable (e.g. the project)
    writable: list[str] = Factory(list)  # visible and writable
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
        self.workdir = resolve(self.workdir)
        self.readonly = [resolve(p) for p in self.readonly]
        self.writable = [resolve(p) for p in self.writable]

    def replace(self, **changes: object) -> Policy:
        """A copy with `changes` (as dataclasses.replace)."""
        return Policy(**{**{n: getattr(self, n) for n in self.__fields__}, **changes})

    def writable_paths(self) -> list[str]:
        """Where the command may write: the `writable` paths, and the workdir unless a read-only path holds it."""
        covered = any(inside(self.workdir, p) for p in self.readonly)
        return [*([] if covered else [self.workdir]), *self.writable]

    def to_dict(self) -> dict[str, object]:
        return {
            "workdir": self.workdir,
            "readonly": list(self.readonly),
            "writable": list(self.writable),
            "network": self.network,
            "mem": self.mem,
            "procs": self.procs,
            "cpu": self.cpu,
            "disk": self.disk,
            "timeout": self.timeout,
        }


def resolve(path: str | os.PathLike[str]) -> str:
    """The absolute real path, as Path.resolve() gives it (which is os.path.realpath since Python 3.10)."""
    return os.path.realpath(os.fspath(path))


def inside(path: str, parent: str) -> bool:
    """Whether `path` is `parent` or lies below it (both absolute and normalised)."""
    return path == parent or path.startswith(parent.rstrip("/") + "/")


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
    """The paths a SECRET_GLOBS entry names: one `*` in the last part at most (neither glob nor fnmatch, whose
    re import the start path avoids, is needed for that)."""
    if "*" not in pattern:
        return [pattern] if os.path.lexists(pattern) else []
    folder, name = os.path.split(pattern)
    head, _, tail = name.partition("*")
    try:
        entries = os.listdir(folder)
    except OSError:
        return []
    return [
        os.path.join(folder, e)
        for e in sorted(entries)
        if e.startswith(head) and e.endswith(tail) and len(e) >= len(head) + len(tail) and not e.startswith(".")
    ]


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
