"""Landlock: the kernel forbids this process (and its children) to change any file.

A query worker calls ``forbid_writes`` before it reads its first request. From then on no
file may be written, truncated, created, renamed, linked or removed anywhere, no program
executed, and (kernel ABI ≥ 4) no TCP socket bound or connected — whatever the SQL, whatever
DuckDB does with it. Reads are not restricted here: DuckDB's ``allowed_paths`` limits them
to the committed files.

Landlock (Linux ≥ 5.13) needs no privileges and is inherited across ``fork``/``exec``; it
cannot be lifted once applied. The calls are three system calls with small structs, so
they are made directly through ``ctypes`` (the PyPI bindings are alpha releases).
"""

from __future__ import annotations

import ctypes
import os
import platform
import struct
import sys

__all__ = ["forbid_writes"]

# System call numbers are the same on every architecture (added after the unification).
_CREATE_RULESET = 444
_RESTRICT_SELF = 446
_CREATE_RULESET_VERSION = 1 << 0
_PR_SET_NO_NEW_PRIVS = 38

# LANDLOCK_ACCESS_FS_*: the rights a process loses when they are "handled" and no rule
# grants them back. Reading files and directories is deliberately not in the list.
_FS_EXECUTE = 1 << 0
_FS_WRITE_FILE = 1 << 1
_FS_REMOVE_DIR = 1 << 4
_FS_REMOVE_FILE = 1 << 5
_FS_MAKE = sum(1 << bit for bit in range(6, 13))  # char, dir, reg, sock, fifo, block, sym
_FS_REFER = 1 << 13  # ABI 2: link or rename across directories
_FS_TRUNCATE = 1 << 14  # ABI 3
_NET_TCP = (1 << 0) | (1 << 1)  # ABI 4: bind, connect
_SCOPE = (1 << 0) | (1 << 1)  # ABI 6: abstract UNIX sockets, signals outside the domain


def _abi(libc: ctypes.CDLL) -> int:
    version = libc.syscall(_CREATE_RULESET, None, ctypes.c_size_t(0), _CREATE_RULESET_VERSION)
    return int(version) if version > 0 else 0


def _ruleset(abi: int) -> bytes:
    fs = _FS_EXECUTE | _FS_WRITE_FILE | _FS_REMOVE_DIR | _FS_REMOVE_FILE | _FS_MAKE
    if abi >= 2:
        fs |= _FS_REFER
    if abi >= 3:
        fs |= _FS_TRUNCATE
    # struct landlock_ruleset_attr grew with the ABI: pass the size this kernel knows.
    if abi >= 6:
        return struct.pack("=QQQ", fs, _NET_TCP, _SCOPE)
    if abi >= 4:
        return struct.pack("=QQ", fs, _NET_TCP)
    return struct.pack("=Q", fs)


def forbid_writes() -> str:
    """Forbid this process to change any file, for good; say what now holds.

    Returns e.g. ``"landlock ABI 7"``, or why nothing could be applied (``"unavailable:
    …"``): the caller reports it, and the other layers of query safety still hold.
    """
    if sys.platform != "linux":
        return f"unavailable: Landlock is a Linux feature (this is {platform.system()})"
    libc = ctypes.CDLL(None, use_errno=True)
    abi = _abi(libc)
    if abi <= 0:
        return "unavailable: the kernel has no Landlock (Linux ≥ 5.13 with it enabled)"
    attr = ctypes.create_string_buffer(_ruleset(abi))
    fd = libc.syscall(_CREATE_RULESET, attr, ctypes.c_size_t(len(attr.raw)), 0)
    if fd < 0:
        return f"unavailable: landlock_create_ruleset: {os.strerror(ctypes.get_errno())}"
    try:
        # Required for an unprivileged process: no exec may gain privileges afterwards.
        if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            return f"unavailable: prctl(NO_NEW_PRIVS): {os.strerror(ctypes.get_errno())}"
        if libc.syscall(_RESTRICT_SELF, fd, 0) != 0:
            return f"unavailable: landlock_restrict_self: {os.strerror(ctypes.get_errno())}"
    finally:
        os.close(fd)
    return f"landlock ABI {abi}"
