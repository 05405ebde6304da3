"""Whether a process of this host is still running, for what a dead process may have left behind (its
reservations' leases, quota/leases.py; its claims on outbox entries, relay/outbox.py)."""

from __future__ import annotations

import functools
import os
import socket


def _stat(pid: int) -> list[bytes] | None:
    """The fields of /proc/`pid`/stat after the command name (which may hold anything); None if unknown."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None


def start_time(pid: int) -> str | None:
    """When the process `pid` started, in clock ticks since boot (Linux); None where unknown. With the
    pid, it names a process: a pid given to a later process comes with a later start time."""
    fields = _stat(pid)
    return fields[19].decode() if fields and len(fields) > 19 else None


def is_running(pid: int) -> bool:
    """Whether `pid` is a running process: a zombie (killed, its parent not having reaped it yet) is not."""
    fields = _stat(pid)
    if fields is not None:
        return fields[0] != b"Z"
    try:  # no /proc: ask the kernel
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@functools.cache
def this_host() -> str:
    """The name of the machine as its processes see each other: its host name and, where there is one,
    its pid namespace (two containers sharing a host name, as Docker's host networking makes them, see
    different processes under the same pids)."""
    try:
        namespace = os.readlink("/proc/self/ns/pid").removeprefix("pid:").strip("[]")
    except OSError:
        return socket.gethostname()
    return f"{socket.gethostname()}/{namespace}"
