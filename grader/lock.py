"""One writer at a time: a course-level lock around the commands that use the gradebook.

Two ``autograde`` runs on the same course (two instructors, a cron job and a person) would
otherwise grade the same students twice and delete each other's working folders. The lock
is ``<course>/.grader.lock``, locked with ``flock``; while held it names its holder (pid,
host, start time, command). The kernel releases an ``flock`` when its holder dies, so a
holder killed without cleaning up leaves only its description behind: the next command takes
the lock over and says so.
"""

from __future__ import annotations

import datetime
import fcntl
import json
import os
import pathlib
import socket
import sys
import time
from contextlib import contextmanager

from grader.course import GradingError

LOCK_NAME = ".grader.lock"


def _read(fd: int) -> dict | None:
    """The holder's description in the lock file, ``{}`` if unreadable, ``None`` if empty."""
    os.lseek(fd, 0, os.SEEK_SET)
    data = os.read(fd, 4096)
    if not data.strip():
        return None
    try:
        return json.loads(data)
    except ValueError:  # the holder is writing it right now
        return {}


def describe(holder: dict | None) -> str:
    if not holder:
        return "another grader process"
    where = f" on {holder['host']}" if holder.get("host") not in (None, socket.gethostname()) else ""
    return (f"pid {holder.get('pid')}{where} ({holder.get('command', 'a grader command')}, "
            f"started {holder.get('started', '?')})")


def _alive(holder: dict) -> bool:
    if holder.get("host") != socket.gethostname():
        return False
    try:
        os.kill(int(holder["pid"]), 0)
    except (ProcessLookupError, KeyError, ValueError, TypeError):
        return False
    except PermissionError:
        return True
    return True


@contextmanager
def course_lock(root: pathlib.Path, command: str, wait: float | None = None, poll: float = 0.5,
                out=None):
    """Hold the course's lock for the duration of the block.

    If another process holds it, say who and wait: indefinitely (``wait=None``) or at most
    ``wait`` seconds, after which a ``GradingError`` names the holder.
    """
    out = out or sys.stderr
    path = pathlib.Path(root) / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = None if wait is None else time.monotonic() + wait
        announced = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                holder = describe(_read(fd))
                if deadline is not None and time.monotonic() >= deadline:
                    raise GradingError(
                        f"the course {root} is in use by {holder}; run the command again when it "
                        f"has finished (or pass --wait SECONDS to wait for it)") from None
                if not announced:
                    limit = "" if wait is None else f" (at most {wait:g} s)"
                    print(f"waiting for {holder} to finish with the course{limit}...", file=out, flush=True)
                    announced = True
                time.sleep(poll)
        previous = _read(fd)
        if previous is not None:  # a holder releases by emptying the file: this one died
            state = "is still running but no longer holds it" if previous and _alive(previous) else "is no longer running"
            print(f"taking over the stale lock of {describe(previous)}, which {state}", file=out, flush=True)
        me = dict(pid=os.getpid(), host=socket.gethostname(), command=command,
                  started=datetime.datetime.now().astimezone().isoformat(timespec="seconds"))
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(me).encode(), 0)
        try:
            yield me
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
