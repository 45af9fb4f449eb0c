"""A stop request (Ctrl-C) that the judge obeys at its next wait, never in the middle of a step.

A ``KeyboardInterrupt`` raised by a signal handler can land anywhere: between creating a
kernel client and keeping a reference to it, say, which leaves ZeroMQ sockets open; the
garbage collector then blocks for ever in ``zmq.Context.term()`` and the grader never exits.
So while the judge runs, Ctrl-C only calls ``request()``; every loop in which the judge waits
(the sandbox starting, the kernel starting, a cell or a request running) calls ``check()``,
which raises ``GradingStopped`` there, where the code around it knows how to clean up.
"""

from __future__ import annotations

import contextlib
import signal
import threading

_requested = threading.Event()


class GradingStopped(KeyboardInterrupt):
    """The grader was asked to stop; the judgement in progress is abandoned."""


def request() -> None:
    _requested.set()


def clear() -> None:
    _requested.clear()


def requested() -> bool:
    return _requested.is_set()


def check() -> None:
    """Raise ``GradingStopped`` if a stop was requested."""
    if _requested.is_set():
        raise GradingStopped("grading stopped on request")


@contextlib.contextmanager
def sigint_handler(handler):
    """``handler`` receives Ctrl-C (SIGINT) inside the block; the previous one is put back after.

    Only the main thread can set signal handlers: elsewhere nothing is installed. Yields
    whether it was installed.
    """
    if threading.current_thread() is not threading.main_thread():
        yield False
        return
    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield True
    finally:
        signal.signal(signal.SIGINT, previous)
