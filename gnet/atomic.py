"""Writing files so that a failure never leaves a half-written one: a
temporary file in the same folder, flushed, renamed over the target, the
folder synced; and removing the temporaries that a killed writer left."""

from __future__ import annotations

import os
import re
import tempfile
import time
from pathlib import Path


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` so that a crash or error never leaves a
    half-written file: write a temporary file in the same folder, flush it to
    disk, then rename it over ``path`` (atomic on POSIX and Windows)."""
    path = Path(path)
    prefix = f".{path.name}.{os.getpid()}."  # the pid tells a stale file from a live write
    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


STALE_AFTER_S = 24 * 3600
"""A temporary file of ours this old is stale even if its pid is in use again."""

_TEMPORARY = re.compile(r"^\.(?P<name>.+?)\.(?:(?P<pid>\d+)\.)?[A-Za-z0-9_]{6,}\.tmp$")


def remove_stale_temporaries(folder: str | os.PathLike[str], name: re.Pattern[str]) -> list[Path]:
    """Delete the temporary files :func:`atomic_write_bytes` left in ``folder``
    for targets whose file name matches ``name``, when the process that wrote
    them is gone (killed during a write) or they are over a day old. Files of
    a live writer, and every other file, are left alone. Returns those removed."""
    removed: list[Path] = []
    now = time.time()
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        m = _TEMPORARY.match(entry.name)
        if not m or not name.match(m.group("name")):
            continue
        try:
            if not entry.is_file(follow_symlinks=False):
                continue
            old = now - entry.stat(follow_symlinks=False).st_mtime > STALE_AFTER_S
            pid = m.group("pid")
            if old or (pid is not None and not _alive(int(pid))):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
        except OSError:
            continue  # gone already, or not ours to delete
    return removed


def _alive(pid: int) -> bool:
    """Whether process ``pid`` exists (POSIX); elsewhere assume it does (age decides)."""
    if pid == os.getpid():
        return True
    if os.name != "posix":
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True
    return True


def fsync_dir(folder: str | os.PathLike[str]) -> None:
    """Flush a folder's entries (a rename into it) to disk, where the OS allows
    (POSIX; Windows cannot open a folder, and a rename there is durable)."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems (and Windows) refuse: the rename stands anyway
    finally:
        os.close(fd)
