"""Each backend turns a Policy into an argv: bubblewrap, firejail, podman.

A backend's `build` returns a Launch: the argv, the file descriptors it must
inherit (bwrap's seccomp program), temporary files to remove afterwards, and
whether the rlimits still have to be applied from outside (podman applies
its own). As root, bwrap maps the unprivileged uid 65534 inside its user
namespace; the process keeps no capability in the host's namespace.
"""

from __future__ import annotations

import os

from helper.errors import HelpError
from helper.which import which
from plugins.sandbox import seccomp
from plugins.sandbox.policy import NOBODY, Policy, sandbox_env, secrets, system_dirs

BACKENDS = ("bwrap", "firejail", "podman")
# Two layers: a podman container (namespaces, cgroup limits, read-only root, no capabilities) around bwrap
# (its own namespaces, uid 65534, the seccomp filter). firejail cannot be the inner layer: 0.9.72 detects the
# container and runs the command unsandboxed, even with --force.
DOUBLE = "podman+bwrap"
BWRAP_SETUP = ("mount", "umount2", "unshare", "pivot_root")  # what bwrap itself needs from the outer layer
SECCOMP_INSIDE = "/tmp/.help-sandbox-seccomp"  # the inner filter, handed in as a read-only file
PODMAN_ENV = ("HOME", "XDG_RUNTIME_DIR", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "CONTAINERS_STORAGE_CONF")
PREFERENCE = ("bwrap", "firejail", "podman")
PACKAGES = {"bwrap": "bubblewrap", "firejail": "firejail", "podman": "podman"}


class Launch:
    """How to start one sandboxed command (a plain class: dataclasses costs start-up time here)."""

    def __init__(
        self,
        argv: list[str],
        pass_fds: list[int] | None = None,
        temp_files: list[str] | None = None,
        rlimits_outside: bool = True,  # run the argv under prlimit (false: the backend sets the limits itself)
        stop: list[str] | None = None,  # run on timeout: what lives outside our process group (a container)
        env: dict[str, str] | None = None,  # for the backend process only, never passed on to the command
    ) -> None:
        self.argv = argv
        self.pass_fds = pass_fds or []
        self.temp_files = temp_files or []
        self.rlimits_outside = rlimits_outside
        self.stop = stop
        self.env = env or {}


def binary(name: str) -> str | None:
    """The backend's executable by its real path: a symlink on PATH (e.g. in a temp dir) is not inside a container."""
    found = which(name)
    return os.path.realpath(found) if found else None


def choose(preferred: str | None = None) -> str:
    """The backend to use: `preferred` if installed, else the first installed in PREFERENCE order."""
    if preferred == DOUBLE:
        for part in ("podman", "bwrap"):
            if not binary(part):
                raise HelpError(
                    f"the double sandbox needs {part}, which is not installed", f"sudo apt-get install {PACKAGES[part]}"
                )
        return DOUBLE
    if preferred:
        if preferred not in BACKENDS:
            raise HelpError(f"unknown sandbox backend {preferred}", "choose one of: " + ", ".join(BACKENDS))
        if not binary(preferred):
            raise HelpError(
                f"sandbox backend {preferred} is not installed", f"sudo apt-get install {PACKAGES[preferred]}"
            )
        return preferred
    for name in PREFERENCE:
        if binary(name):
            return name
    raise HelpError(
        "no sandbox backend can enforce the policy here (bubblewrap, firejail or podman)",
        "sudo apt-get install bubblewrap   (or pass --unsafe-no-sandbox to run the command unisolated)",
    )


def build(name: str, policy: Policy, command: list[str]) -> Launch:
    if name == "bwrap":
        return _bwrap(policy, command)
    if os.geteuid() != 0:
        refuse_unprivileged("podman" if name == DOUBLE else name)
    if name == "firejail":
        return Launch(_firejail(str(binary("firejail")), policy, command))
    if name == "podman":
        return _podman(policy, command)
    if name == DOUBLE:
        return _double(policy, command)
    raise HelpError(f"unknown sandbox backend {name}", "choose one of: " + ", ".join(BACKENDS))


FIREJAIL_USERS = "/etc/firejail/firejail.users"
SUBID_FILES = ("/etc/subuid", "/etc/subgid")


def refuse_unprivileged(name: str) -> None:
    """A HelpError when backend `name` cannot sandbox this (non-root) user here, before anything runs."""
    found = refusal(name)
    if found is not None:
        raise HelpError(*found)


def refusal(name: str, uid: int | None = None) -> tuple[str, str] | None:
    """(message, hint) when backend `name` refuses the user `uid` (default: this process's), else None.

    firejail never sandboxes `nobody`, and for a user it does not allow (not in firejail.users, or
    without a login shell) it starts the user's shell instead: unsandboxed, or refused by nologin.
    Rootless podman needs the user's /etc/subuid and /etc/subgid ranges for its user namespace.
    Root is refused by neither.
    """
    import pwd

    uid = os.geteuid() if uid is None else uid
    if uid == 0 or name not in ("firejail", "podman", DOUBLE):
        return None
    try:
        user = pwd.getpwuid(uid)
    except KeyError:
        return f"{name} cannot sandbox uid {uid}: it has no entry in /etc/passwd", "use --backend bwrap"
    if name == "firejail":
        shell = os.path.basename(user.pw_shell or "")
        if user.pw_name == "nobody" or uid == NOBODY:
            reason = "firejail never sandboxes the user nobody"
        elif _listed(FIREJAIL_USERS, user.pw_name) is False:
            reason = f"user {user.pw_name} is not in {FIREJAIL_USERS}"
        elif shell in ("nologin", "false", "") or not os.access(user.pw_shell, os.X_OK):
            reason = f"user {user.pw_name} has no login shell ({user.pw_shell or 'none'}), which firejail needs"
        else:
            return None
        return (
            f"firejail cannot sandbox this user: {reason}",
            f"use --backend bwrap, or (as root) `firecfg --add-users {user.pw_name}` with a real login shell",
        )
    missing = [f for f in SUBID_FILES if not _has_range(f, user.pw_name, uid)]
    if missing:
        return (
            f"rootless podman cannot sandbox user {user.pw_name}: no range in {' and '.join(missing)}",
            f"use --backend bwrap, or (as root) `usermod --add-subuids 100000-165535 --add-subgids "
            f"100000-165535 {user.pw_name}` then `podman system migrate`",
        )
    return None


def _listed(path: str, name: str) -> bool | None:
    """Whether `name` is a line of `path`; None when the file does not exist (firejail then allows everyone)."""
    try:
        with open(path, encoding="utf-8") as handle:
            return name in {line.strip() for line in handle}
    except FileNotFoundError:
        return None
    except OSError:
        return False


def _has_range(path: str, name: str, uid: int) -> bool:
    try:
        with open(path, encoding="utf-8") as handle:
            return any(line.split(":")[0] in (name, str(uid)) for line in handle if line.count(":") == 2)
    except OSError:
        return False


def _bwrap(policy: Policy, command: list[str]) -> Launch:
    argv = [str(binary("bwrap")), "--die-with-parent", "--new-session", "--unshare-all", "--share-net"]
    if not policy.network:
        argv = argv[:-1]  # --unshare-all includes the network
    argv += ["--unshare-user", "--uid", str(NOBODY), "--gid", str(NOBODY), "--disable-userns"]
    argv += ["--hostname", "sandbox", "--cap-drop", "ALL"]
    for path, target in system_dirs():
        argv += ["--symlink", target, path] if target else ["--ro-bind", path, path]
    for path, is_dir in secrets():
        argv += (
            ["--perms", "0555", "--tmpfs", path, "--remount-ro", path] if is_dir else ["--ro-bind", "/dev/null", path]
        )
    argv += ["--proc", "/proc", *_bwrap_dev(policy), "--perms", "1777", "--size", str(policy.disk), "--tmpfs", "/tmp"]
    for path in map(str, policy.readonly):
        argv += ["--ro-bind", str(path), str(path)]
    for path in map(str, policy.writable_paths()):
        argv += ["--bind", str(path), str(path)]
    for target, path in policy.links:
        argv += ["--symlink", target, path]
    argv += ["--chdir", str(policy.workdir)]
    fds: list[int] = []
    if seccomp.supported():
        fd = seccomp.pipe_fd()
        fds.append(fd)
        argv += ["--seccomp", str(fd)]
    return Launch([*argv, "--", *command], pass_fds=fds)


DEVICES = ("null", "zero", "full", "random", "urandom", "tty")


def _bwrap_dev(policy: Policy) -> list[str]:
    """A /dev of a few device nodes, read-only, plus a sized /dev/shm (bwrap's --dev is an unsized, writable tmpfs)."""
    argv = ["--size", "65536", "--tmpfs", "/dev"]
    for name in DEVICES:
        argv += ["--dev-bind", f"/dev/{name}", f"/dev/{name}"]
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1")):
        argv += ["--symlink", target, f"/dev/{name}"]
    argv += ["--symlink", "/proc/self/fd/2", "/dev/stderr"]
    argv += ["--perms", "1777", "--size", str(policy.disk), "--tmpfs", "/dev/shm", "--remount-ro", "/dev"]
    return argv


FIREJAIL_DENY = (
    "mount,umount2,ptrace,keyctl,add_key,request_key,bpf,unshare,setns,kexec_load,kexec_file_load,"
    "init_module,finit_module,delete_module,pivot_root,swapon,swapoff,reboot,perf_event_open,userfaultfd,"
    "open_by_handle_at"
)


def _firejail(fj: str, policy: Policy, command: list[str]) -> list[str]:
    argv = [
        fj,
        "--quiet",
        "--noprofile",
        "--caps.drop=all",
        "--nonewprivs",
        "--noroot" if os.getuid() else "--nogroups",
    ]
    argv += [f"--seccomp={FIREJAIL_DENY}", "--seccomp.block-secondary", "--restrict-namespaces"]
    # --private-dev is an unsized tmpfs holding the host's /dev/shm: read-only, and the host's shm hidden.
    argv += ["--private-dev", "--read-only=/dev", "--blacklist=/dev/shm", "--ipc-namespace", "--hostname=sandbox"]
    # A private /tmp: an empty tmpfs, holding only the given paths that live under /tmp.
    under_tmp = [p for p in (policy.workdir, *policy.readonly, *policy.writable) if _inside(p, "/tmp")]
    argv += [f"--whitelist={p}" for p in under_tmp] if under_tmp else ["--private-tmp"]
    if not policy.network:
        argv.append("--net=none")
    argv += [f"--rlimit-as={policy.mem}", f"--rlimit-nproc={policy.procs}", f"--rlimit-fsize={policy.disk}"]
    argv += [f"--rlimit-cpu={policy.cpu}"]
    # Everything outside the allow list disappears: home directories, /root, /srv, /opt, /var, /work ...
    keep = {p for p, _ in system_dirs()} | {"/proc", "/dev", "/tmp", "/sys", "/run"}
    given = [str(p) for p in (policy.workdir, *policy.readonly, *policy.writable)]
    argv += [f"--blacklist={p}" for p in _around("/", given, keep)]
    # firejail keeps its own state in /run/firejail; the rest of /run (engine sockets, user runtime dirs) goes.
    argv += [f"--blacklist=/run/{e}" for e in sorted(os.listdir("/run")) if e != "firejail"] + [
        "--blacklist=/sys/fs/cgroup"
    ]
    for path, _ in secrets():
        argv.append(f"--blacklist={path}")
    # In order: everything read-only (whitelisted paths under /tmp included), then the writable paths.
    argv += ["--read-only=/", *[f"--read-only={p}" for p in policy.readonly]]
    argv += [f"--read-write={p}" for p in policy.writable_paths()]
    return [*argv, "--", *_cd(str(policy.workdir), command)]


def _around(folder: str, given: list[str], keep: set[str]) -> list[str]:
    """Entries of `folder` to hide: all but `keep` and the way down to each given path (whose siblings go too)."""
    hidden = []
    try:
        entries = sorted(os.listdir(folder))
    except OSError:
        return []
    for entry in entries:
        path = os.path.join(folder, entry)
        if path in keep or path in given:
            continue
        if any(g.startswith(path + "/") for g in given):
            hidden += _around(path, given, set())
        else:
            hidden.append(path)
    return hidden


def _inside(path: object, parent: object) -> bool:
    return str(path) == str(parent) or str(path).startswith(str(parent) + "/")


NOT_ISOLATED = "sandbox: firejail did not isolate the command"
# firejail runs a command WITHOUT any sandboxing when it believes it is in one already (a container, a pid
# namespace), saying so only on stderr. This shell (dash builtins only) checks from inside that no_new_privs
# and a seccomp filter are really in force before it changes directory and execs the command.
GUARD = (
    'while read -r k v; do case "$k" in NoNewPrivs:) n=$v;; Seccomp:) s=$v;; esac; done < /proc/self/status; '
    '[ "$n" = 1 ] && [ "$s" = 2 ] || { echo "' + NOT_ISOLATED + '" >&2; exit 126; }; '
    'cd "$0" && exec "$@"'
)


def _cd(workdir: str, command: list[str]) -> list[str]:
    # firejail has no --chdir for arbitrary paths without a profile: a shell checks, changes directory, execs.
    return ["/bin/sh", "-c", GUARD, workdir, *command]


def ensure_rootfs() -> str:
    """The container's root: mount points and /bin-style symlinks only (the host's /usr, /etc ... are mounted in).

    Kept in the user-wide cache; no image is pulled or built, and nothing of the host is copied.
    """
    base = os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "help", "sandbox-rootfs")
    links = {path.lstrip("/"): target for path, target in system_dirs() if target}
    for name in ("usr", "etc", "tmp", "proc", "dev", "sys", "run", "lib", "lib64", "bin", "sbin"):
        path = os.path.join(base, name)
        if name in links:
            if not os.path.islink(path):
                os.makedirs(os.path.dirname(path), exist_ok=True)
                os.symlink(links[name], path)
        elif not os.path.isdir(path) and not os.path.islink(path):
            os.makedirs(path, exist_ok=True)
    os.chmod(os.path.join(base, "tmp"), 0o1777)  # the engine gives the /tmp tmpfs the mode of the directory under it
    return base


ENGINE_PROFILE = "/usr/share/containers/seccomp.json"


def _seccomp_profile(outer: bool = False) -> str:
    """The path of the podman profile (plugins.sandbox.profilecache keeps it): see _build_profile.

    Keyed by the denied syscalls, the layer and the engine profile's stat signature; reusing it builds nothing.
    """
    from plugins.sandbox import profilecache
    from plugins.sandbox.seccomp import CLONE_NAMESPACES, DENIED

    denied = sorted(set(DENIED) - (set(BWRAP_SETUP) if outer else set()))
    try:
        st = os.stat(ENGINE_PROFILE)
        engine = f"{st.st_mtime_ns}.{st.st_size}.{st.st_ino}"
    except OSError:
        engine = "none"
    layer = "outer" if outer else "inner"
    key = f"{profilecache.FORMAT}:{layer}:{CLONE_NAMESPACES:x}:{engine}:{ENGINE_PROFILE}:{','.join(denied)}"
    return profilecache.profile(key, lambda: _build_profile(denied, outer))


def _build_profile(denied: list[str], outer: bool) -> bytes:
    """The engine's own allow-list profile minus every syscall we deny; else an allow-by-default one denying them.
    `outer`: the profile around bwrap, which lets it set up its namespaces (its own filter then denies them).
    """
    import json

    from plugins.sandbox.seccomp import CLONE_NAMESPACES

    rule = {"names": denied, "action": "SCMP_ACT_ERRNO", "errnoRet": 1}
    try:
        if outer:
            raise ValueError("the engine's profile refuses namespaces to a container without CAP_SYS_ADMIN")
        with open(ENGINE_PROFILE) as handle:
            profile = json.load(handle)
        for entry in profile.get("syscalls", []):
            if entry.get("action") == "SCMP_ACT_ALLOW":
                entry["names"] = [n for n in entry.get("names", []) if n not in denied]
        profile["syscalls"] = [e for e in profile["syscalls"] if e.get("names")] + [rule]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        flags = [1 << bit for bit in range(32) if CLONE_NAMESPACES & (1 << bit)]
        clone = [
            {
                "names": ["clone"],
                "action": "SCMP_ACT_ERRNO",
                "errnoRet": 1,
                "args": [{"index": 0, "value": flag, "valueTwo": flag, "op": "SCMP_CMP_MASKED_EQ"}],
            }
            for flag in flags
        ]
        clone3 = {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}
        profile = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [rule, clone3, *([] if outer else clone)]}
    return json.dumps(profile, separators=(",", ":")).encode("ascii")


def _double(policy: Policy, command: list[str]) -> Launch:
    """bwrap with the whole policy, inside a podman container with the whole policy."""
    from plugins.sandbox import profilecache

    inner = _bwrap(policy, command)
    for fd in inner.pass_fds:
        os.close(fd)
    argv = list(inner.argv)
    program = profilecache.program(seccomp.program() if "--seccomp" in argv else b"")
    if "--seccomp" in argv:
        argv[argv.index("--seccomp") + 1] = "9"
    wrapped = ["/bin/sh", "-c", f'exec "$@" 9< {SECCOMP_INSIDE}', "sh", *argv]
    return _podman(policy, wrapped, outer=True, mounts=["-v", f"{program}:{SECCOMP_INSIDE}:ro"])


def _podman(policy: Policy, command: list[str], outer: bool = False, mounts: list[str] | None = None) -> Launch:
    podman = str(binary("podman"))
    rootfs = ensure_rootfs()
    profile = _seccomp_profile(outer)
    name = f"help-sandbox-{os.getpid()}-{os.urandom(4).hex()}"
    argv = [podman, "run", "--rm", "--name", name, "--read-only", "--read-only-tmpfs=false", "--log-driver=none"]
    argv += ["--network=" + ("slirp4netns" if policy.network else "none"), "--ipc=private", "--uts=private"]
    argv += ["--security-opt=no-new-privileges", "--pids-limit", str(policy.procs), "--memory", str(policy.mem)]
    argv += ["--memory-swap", str(policy.mem), "--env-host=false", "--hostname=sandbox", "--init=false"]
    argv += ["--ulimit", f"cpu={policy.cpu}:{policy.cpu + 1}", "--ulimit", f"fsize={policy.disk}:{policy.disk}"]
    argv += ["--ulimit", f"nofile={policy.files}:{policy.files}", "--ulimit", "core=0:0"]
    argv += ["--ulimit", f"nproc={policy.procs}:{policy.procs}"]
    if os.geteuid() != 0:  # rootless on cgroup v1 ignores --memory and --pids-limit: rlimits still hold
        argv += ["--ulimit", f"data={policy.mem}:{policy.mem}"]  # engines know no "as"; data counts anonymous maps
    argv += ["--mount", f"type=tmpfs,destination=/tmp,tmpfs-size={policy.disk},tmpfs-mode=1777"]
    argv += [f"--shm-size={policy.disk}"]
    # Container uid 65534 is host root inside a private user namespace (so it owns the workdir as the caller
    # does) and keeps no capability; every other container uid maps to an unused high range.
    if os.geteuid() == 0:
        argv += ["--uidmap", f"0:200000:{NOBODY}", "--uidmap", f"{NOBODY}:0:1"]
        argv += ["--gidmap", f"0:200000:{NOBODY}", "--gidmap", f"{NOBODY}:0:1"]
    else:  # rootless: the caller's own uid, already unprivileged on the host
        argv += ["--userns=keep-id"]
    user = f"{NOBODY}:{NOBODY}" if os.geteuid() == 0 else f"{os.getuid()}:{os.getgid()}"
    argv += ["--user", user, "--cap-drop=all", f"--security-opt=seccomp={profile}"]
    if outer:  # bwrap mounts a fresh /proc for its pid namespace: the engine's masks over /proc forbid that
        argv += ["--security-opt=unmask=ALL", *(mounts or [])]
    for path, target in system_dirs():
        if not target:
            argv += ["-v", f"{path}:{path}:ro"]
    for path, is_dir in secrets():
        argv += ["--tmpfs", f"{path}:ro,notmpcopyup,mode=0555,size=4k"] if is_dir else ["-v", f"/dev/null:{path}:ro"]
    for path in map(str, policy.readonly):
        argv += ["-v", f"{path}:{path}:ro"]
    for path in map(str, policy.writable_paths()):
        argv += ["-v", f"{path}:{path}:rw"]
    for key, value in sandbox_env(policy).items():
        argv += ["-e", f"{key}={value}"]
    argv += ["-w", str(policy.workdir), "--rootfs", rootfs, *command]
    # Rootless podman finds its storage and runtime directory through these; the container's own environment
    # is only the -e list above (--env-host=false), and podman's process is not visible inside it.
    own = {k: os.environ[k] for k in PODMAN_ENV if k in os.environ} if os.geteuid() else {}
    if own or os.geteuid():  # it maps users by name through /etc/subuid: the caller's, not the sandbox's "nobody"
        import pwd

        own["USER"] = own["LOGNAME"] = pwd.getpwuid(os.geteuid()).pw_name
    return Launch(argv, rlimits_outside=False, stop=[podman, "rm", "-f", "-t", "0", name], env=own)
