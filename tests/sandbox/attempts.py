"""Escape attempts, run INSIDE the sandbox as one script; each leaves evidence in OUT for the host to judge.

Every attempt bounds itself (time, size, count) and touches only its own
canaries, so running this file without any sandbox harms nothing: that run
simply shows every escape. Usage: python3 attempts.py JSON-ARGS
"""

import contextlib
import ctypes
import json
import os
import socket
import subprocess
import sys

ARGS = json.loads(sys.argv[1])
OUT = ARGS["out"]
libc = ctypes.CDLL(None, use_errno=True)


def put(name, data):
    with open(os.path.join(OUT, name), "wb") as handle:
        handle.write(data if isinstance(data, bytes) else str(data).encode())


def read(path, limit=65536):
    try:
        with open(path, "rb") as handle:
            return handle.read(limit)
    except OSError as exc:
        return f"error: {exc}".encode()


def attempt(function):
    try:
        function()
    except Exception as exc:  # an attempt that fails is simply blocked
        put(function.__name__ + ".error", repr(exc))
    return function


@attempt
def euid():
    put("euid", f"{os.geteuid()} {os.getegid()}")


@attempt
def ssh_key():
    paths = (os.path.expanduser("~/.ssh/id_rsa"), "/root/.ssh/id_rsa", ARGS["home"] + "/.ssh/id_rsa")
    put("ssh_key", b"".join(read(path) for path in paths))


@attempt
def root_canary():
    put("root_canary", read(ARGS["canary"]))


@attempt
def host_shm():
    put("host_shm", read(ARGS["shm_canary"]))


@attempt
def home_dirs():
    found = []
    for base in ("/home", "/root"):
        with contextlib.suppress(OSError):
            found += [os.path.join(base, entry) for entry in os.listdir(base)]
    put("home_dirs", "\n".join(found))


@attempt
def shadow():
    put("shadow", read("/etc/shadow") + read("/etc/gshadow") + read("/etc/sudoers"))


@attempt
def shadow_symlink():
    link = "/tmp/help-escape-shadow-link"
    if os.path.lexists(link):
        os.unlink(link)
    os.symlink("/etc/shadow", link)
    try:
        put("shadow_symlink", read(link))
    finally:
        os.unlink(link)


@attempt
def canary_symlink():
    link = os.path.join(OUT, "canary-link")
    os.symlink(ARGS["canary"], link)
    put("canary_symlink", read(link))


@attempt
def proc_root():
    data = b""
    for pid in ("self", "1", str(ARGS["host_pid"])):
        data += read(f"/proc/{pid}/root{ARGS['canary']}") + read(f"/proc/{pid}/root/etc/shadow")
    put("proc_root", data)


@attempt
def host_environ():
    data = read("/proc/1/environ") + read(f"/proc/{ARGS['host_pid']}/environ") + read(f"/proc/{ARGS['victim']}/environ")
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            data += read(f"/proc/{pid}/environ")
    put("host_environ", data)


@attempt
def environment():
    put("environment", json.dumps(dict(os.environ)))


@attempt
def write_outside():
    for path in ARGS["outside"]:
        try:
            with open(path, "w") as handle:
                handle.write("escaped")
        except OSError:
            pass


@attempt
def write_project():
    with open(os.path.join(ARGS["project"], "pwned"), "w") as handle:
        handle.write("escaped")


@attempt
def loopback_tcp():
    socket.create_connection(("127.0.0.1", ARGS["tcp_port"]), timeout=1).close()


@attempt
def abstract_socket():
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    client.settimeout(1)
    client.connect("\0" + ARGS["abstract"])
    client.close()


@attempt
def engine_socket():
    for path in (ARGS["engine_socket"], "/run/podman/podman.sock", "/var/run/docker.sock"):
        client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        client.settimeout(1)
        with contextlib.suppress(OSError):
            client.connect(path)
        client.close()


@attempt
def kill_host():
    import signal

    for sig in (signal.SIGUSR1, signal.SIGTERM):
        with contextlib.suppress(OSError):
            os.kill(ARGS["victim"], sig)


@attempt
def ptrace_host():
    attach, cont, detach = 16, 7, 17
    if libc.ptrace(attach, ARGS["victim"], None, None) == 0:
        os.waitpid(ARGS["victim"], 0x40000000)  # __WALL
        libc.ptrace(cont, ARGS["victim"], None, 12)  # deliver SIGUSR2: the victim's handler notes it
        libc.ptrace(detach, ARGS["victim"], None, None)


@attempt
def setuid_binary():
    result = subprocess.run([ARGS["suid_id"], "Cap", "/proc/self/status"], capture_output=True, timeout=5)
    put("setuid_binary", result.stdout + result.stderr)


@attempt
def mount_syscall():
    libc.unshare(0x00020000)  # a private mount namespace first, so an unsandboxed run changes nothing
    target = os.path.join(OUT, "mnt")
    os.makedirs(target, exist_ok=True)
    if libc.mount(b"none", target.encode(), b"tmpfs", 0, None) == 0:
        put("mount_syscall", "mounted")
        libc.umount2(target.encode(), 2)
    else:
        put("mount_syscall.errno", str(ctypes.get_errno()))


@attempt
def capabilities():
    put("capabilities", read("/proc/self/status"))


@attempt
def new_user_namespace():
    if libc.unshare(0x10000000) == 0:
        put("new_user_namespace", "unshared")
    else:
        put("new_user_namespace.errno", str(ctypes.get_errno()))
