"""A classic-BPF seccomp filter, built in pure Python, for bubblewrap's `--seccomp FD`.

The program checks the audit architecture (x86_64 only: any other, including
i386 `int 0x80` calls and x32 numbers, kills the process), then answers EPERM
for each denied syscall and for clone(2) asking for a new namespace; clone3(2)
gets ENOSYS so libc falls back to clone(2), whose flags can be inspected.
Everything else is allowed. Numbers come from asm/unistd_64.h.
"""

from __future__ import annotations

import errno
import os
import struct

AUDIT_ARCH_X86_64 = 0xC000003E
X32_SYSCALL_BIT = 0x40000000

# name -> x86_64 syscall number (checked against /usr/include/x86_64-linux-gnu/asm/unistd_64.h)
DENIED: dict[str, int] = {
    "ptrace": 101,
    "pivot_root": 155,
    "mount": 165,
    "umount2": 166,
    "swapon": 167,
    "swapoff": 168,
    "reboot": 169,
    "init_module": 175,
    "delete_module": 176,
    "kexec_load": 246,
    "add_key": 248,
    "request_key": 249,
    "keyctl": 250,
    "unshare": 272,
    "perf_event_open": 298,
    "open_by_handle_at": 304,
    "setns": 308,
    "finit_module": 313,
    "kexec_file_load": 320,
    "bpf": 321,
    "userfaultfd": 323,
    "open_tree": 428,
    "move_mount": 429,
    "fsopen": 430,
    "fsconfig": 431,
    "fsmount": 432,
    "fspick": 433,
    "mount_setattr": 442,
}
CLONE = 56
CLONE3 = 435
# CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET | NEWTIME
CLONE_NAMESPACES = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000 | 0x80

# BPF opcodes and seccomp return values (linux/filter.h, linux/seccomp.h)
LD_W_ABS = 0x20
JEQ_K = 0x15
JGE_K = 0x35
JSET_K = 0x45
RET_K = 0x06
RET_KILL_PROCESS = 0x80000000
RET_ALLOW = 0x7FFF0000
RET_ERRNO = 0x00050000
OFF_NR, OFF_ARCH, OFF_ARG0 = 0, 4, 16


def _insn(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("<HBBI", code, jt, jf, k)


def supported() -> bool:
    """Whether this filter fits the machine (it is written for x86_64 only)."""
    return os.uname().machine == "x86_64"


def program() -> bytes:
    """The filter as the bytes of a `struct sock_filter[]`."""
    eperm = RET_ERRNO | errno.EPERM
    out = [
        _insn(LD_W_ABS, OFF_ARCH),
        _insn(JEQ_K, AUDIT_ARCH_X86_64, jt=1, jf=0),
        _insn(RET_K, RET_KILL_PROCESS),
        _insn(LD_W_ABS, OFF_NR),
        _insn(JGE_K, X32_SYSCALL_BIT, jt=0, jf=1),
        _insn(RET_K, eperm),
        _insn(JEQ_K, CLONE3, jt=0, jf=1),
        _insn(RET_K, RET_ERRNO | errno.ENOSYS),
    ]
    for number in sorted(DENIED.values()):
        out += [_insn(JEQ_K, number, jt=0, jf=1), _insn(RET_K, eperm)]
    # clone(flags, ...): the low 32 bits of the first argument hold the namespace flags.
    out += [
        _insn(JEQ_K, CLONE, jt=0, jf=3),
        _insn(LD_W_ABS, OFF_ARG0),
        _insn(JSET_K, CLONE_NAMESPACES, jt=0, jf=1),
        _insn(RET_K, eperm),
        _insn(RET_K, RET_ALLOW),
    ]
    return b"".join(out)


def pipe_fd() -> int:
    """A readable fd holding the program (bwrap reads it to EOF), to pass to the child."""
    data = program()
    read, write = os.pipe()
    os.write(write, data)  # well under the pipe buffer (64 KiB)
    os.close(write)
    return read
