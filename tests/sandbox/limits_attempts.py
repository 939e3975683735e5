"""Resource attempts, each bounded even without a sandbox: python3 limits_attempts.py NAME OUT."""

import contextlib
import os
import sys
import time

NAME, OUT = sys.argv[1], sys.argv[2]


def fork_bomb():
    os.makedirs(os.path.join(OUT, "forks"), exist_ok=True)
    children = []
    for i in range(300):
        try:
            pid = os.fork()
        except OSError:
            break
        if pid == 0:
            open(os.path.join(OUT, "forks", str(i)), "w").close()
            time.sleep(3)
            os._exit(0)
        children.append(pid)
    for pid in children:
        os.waitpid(pid, 0)


def memory_bomb():
    held = []
    for i in range(1, 33):  # at most 1 GiB
        held.append(b"x" * (32 * 1024 * 1024))
        with open(os.path.join(OUT, "memory"), "w") as handle:
            handle.write(str(i * 32))


def memory_tree():
    # Four processes of 96 MiB each: fine per process, too much together. A child that got its 96 MiB notes
    # when, and when it let go after holding it for 2 s (a child the limit kills notes no release).
    children = []
    for n in range(4):
        pid = os.fork()
        if pid == 0:
            held = [b"x" * (8 * 1024 * 1024) for _ in range(12)]
            reached = time.time()
            time.sleep(2)
            with open(os.path.join(OUT, f"tree-{n}"), "w") as handle:
                handle.write(f"{reached} {time.time()} {len(held)}")
            os._exit(0)
        children.append(pid)
    for pid in children:
        os.waitpid(pid, 0)


def disk_fill():
    total = 0
    try:
        for i in range(64):  # at most 256 MiB of 4 MiB files, removed at the end
            with open(f"/tmp/help-escape-fill-{i}", "wb") as handle:
                handle.write(b"x" * (4 * 1024 * 1024))
            total += 4
            with open(os.path.join(OUT, "disk"), "w") as handle:
                handle.write(str(total))
    finally:
        for i in range(64):
            with contextlib.suppress(OSError):
                os.unlink(f"/tmp/help-escape-fill-{i}")


def dev_fill():
    # /dev and /dev/shm are tmpfs too: at most 64 MiB into each, removed at the end
    for folder in ("/dev/shm", "/dev"):
        total = 0
        try:
            for i in range(16):
                with open(f"{folder}/help-escape-fill-{i}", "wb") as handle:
                    handle.write(b"x" * (4 * 1024 * 1024))
                total += 4
                with open(os.path.join(OUT, "dev" + folder.replace("/", "-")), "w") as handle:
                    handle.write(str(total))
        except OSError:
            pass
        finally:
            for i in range(16):
                with contextlib.suppress(OSError):
                    os.unlink(f"{folder}/help-escape-fill-{i}")


def cpu_burn():
    end = time.monotonic() + 25
    while time.monotonic() < end:
        pass


def outlive():
    # A detached grandchild that keeps writing a heartbeat for at most 15 s, then the parent sleeps.
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            for _ in range(150):
                with open(os.path.join(OUT, "heartbeat"), "a") as handle:
                    handle.write(".")
                time.sleep(0.1)
        os._exit(0)
    time.sleep(15)


globals()[NAME]()
