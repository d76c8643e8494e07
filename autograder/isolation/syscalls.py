"""Raw Linux system calls and constants the isolation needs (through ctypes; no other dependency)."""

from __future__ import annotations

import ctypes
import os

__all__ = ["check", "libc", "mount", "set_read_only"]

CLONE_NEWNS = 0x00020000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_PRIVATE = 1 << 18
MS_BIND = 0x1000
MS_REC = 0x4000
MOUNT_ATTR_RDONLY = 0x1
AT_FDCWD = -100
AT_RECURSIVE = 0x8000
SYS_MOUNT_SETATTR = 442  # the same number on every architecture (new-style syscall table)
#: ``pivot_root(2)`` by architecture (glibc has no wrapper).
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}
PR_SET_SECUREBITS = 28
PR_CAPBSET_DROP = 24
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
PR_SET_NO_NEW_PRIVS = 38
PR_SET_PDEATHSIG = 1
PR_SET_NAME = 15
#: NOROOT, NO_SETUID_FIXUP, KEEP_CAPS and NO_CAP_AMBIENT_RAISE, each with its lock bit.
SECUREBITS_LOCKED = 0b11101111
CAPABILITY_VERSION_3 = 0x20080522


#: The C library, with errno kept for :func:`check`.
libc = ctypes.CDLL(None, use_errno=True)
libc.strlen.restype = ctypes.c_size_t


def check(ret: int, what: str) -> None:
    """Raise :class:`OSError` (with errno's message) when a libc call returned non-zero."""
    if ret != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def mount(source: str, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    """``mount(2)``; raises :class:`OSError` naming the target."""
    check(
        libc.mount(
            source.encode(),
            target.encode(),
            fstype.encode() if fstype else None,
            ctypes.c_ulong(flags),
            data.encode() if data else None,
        ),
        f"mount {target}",
    )


class _MountAttr(ctypes.Structure):
    _fields_ = [
        ("attr_set", ctypes.c_uint64),
        ("attr_clr", ctypes.c_uint64),
        ("propagation", ctypes.c_uint64),
        ("userns_fd", ctypes.c_uint64),
    ]


def set_read_only(path: str, read_only: bool, recursive: bool) -> None:
    """``mount_setattr(2)`` (Linux 5.12+): add or clear ``MOUNT_ATTR_RDONLY`` on a mount (tree)."""
    attr = _MountAttr(MOUNT_ATTR_RDONLY if read_only else 0, 0 if read_only else MOUNT_ATTR_RDONLY, 0, 0)
    flags = AT_RECURSIVE if recursive else 0
    ret = libc.syscall(
        SYS_MOUNT_SETATTR, AT_FDCWD, path.encode(), flags, ctypes.byref(attr), ctypes.sizeof(attr)
    )
    check(ret, f"mount_setattr {path}")
