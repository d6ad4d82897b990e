"""One run at a time per output folder: ``OUT/.autosalt.lock``.

Two runs writing one folder would mix their visits and tables (and each would delete the
other's temporary files as left over). The lock file is created exclusively (``O_EXCL``),
holds the owner's pid, host and start time, and is removed when the run ends. A lock left by a
run that was killed (its pid no longer running on this host) is reported and taken over.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

LOCK_NAME = ".autosalt.lock"
#: A lock file still empty after this many seconds was left by a run killed while taking it.
EMPTY_LOCK_STALE_SECONDS = 10.0


class OutputLockedError(ValueError):
    """Another run holds the output folder; the message names it and what to do."""


@contextlib.contextmanager
def output_lock(out: Path, command: str) -> Iterator[Path]:
    """Hold ``out``'s lock for the duration of the ``with`` block; yields the lock file."""
    path = Path(out) / LOCK_NAME
    _acquire(path, command)
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)


def _acquire(path: Path, command: str) -> None:
    owner = {"pid": os.getpid(), "host": socket.gethostname(), "command": command,
             "started": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    for _attempt in range(3):
        try:
            handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            holder = _read_holder(path)
            if _holder_running(path, holder):
                raise OutputLockedError(_locked_message(path, holder)) from None
            print(f"{path}: removed a stale lock of {_describe(holder)}, which is no longer "
                  "running", file=sys.stderr)
            path.unlink(missing_ok=True)
            continue
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump(owner, stream)
        return
    raise OutputLockedError(f"{path}: could not take the lock (other runs keep taking it)")


def _read_holder(path: Path) -> dict | None:
    try:
        holder = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return holder if isinstance(holder, dict) else None


def _holder_running(path: Path, holder: dict | None) -> bool:
    """Whether the run named in the lock may still be running (True when it cannot be told)."""
    if holder is None:  # being written right now, or left empty by a killed run
        try:
            return time.time() - path.stat().st_mtime < EMPTY_LOCK_STALE_SECONDS
        except FileNotFoundError:
            return False
    pid = holder.get("pid")
    if holder.get("host") != socket.gethostname() or not isinstance(pid, int) or os.name == "nt":
        return True  # another machine (shared disk): its processes cannot be seen from here
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by another user
    return True


def _describe(holder: dict | None) -> str:
    if holder is None:
        return "a run that left it empty"
    return (f"'{holder.get('command', '?')}' (pid {holder.get('pid', '?')} on "
            f"{holder.get('host', '?')}, started {holder.get('started', '?')})")


def _locked_message(path: Path, holder: dict | None) -> str:
    return (f"{path.parent}: another run is writing to this folder: {_describe(holder)}. Wait for "
            f"it to finish or choose another --out; if no such run is active any more, delete "
            f"{path}")
