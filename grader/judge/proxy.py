"""The grader's side of the boundary: student names as proxies that exchange only data.

A test cell runs in the grader's own process. Each name the assignment asks the student to
define (a function, a class, a value) is looked up in the student's kernel and appears in the
test cell's namespace as

* a ``Remote`` proxy, for anything callable or otherwise not data: calling it sends the
  arguments as data (``codec``), runs the student's code in the sandbox, and returns the result
  as data; attribute reads, method calls and iteration work the same way;
* a decoded copy, for a plain value (an array, a number).

After a call, the arguments as the student's code left them are copied back into the caller's
arrays, lists, dicts and random generators, so a test sees in-place modification and which
random numbers were drawn, exactly as if the function had run in its own process.
"""

from __future__ import annotations

import builtins

import numpy as np

from grader.judge import codec
from grader.judge.kernel import CellTimeout, KernelDied, OutputLimit, StudentKernel


class RemoteError(Exception):
    """The student's code raised an exception that is not one of Python's own."""


class ProtocolError(Exception):
    """The student's kernel answered with something that is not a valid answer."""


#: Python's own exception types, which a student's exception may come back as (by name).
_BUILTIN_EXCEPTIONS = {name: obj for name, obj in vars(builtins).items()
                       if isinstance(obj, type) and issubclass(obj, Exception)}


class StudentSession:
    """The grader's connection to one submission's kernel, for the duration of a test cell."""

    def __init__(self, kernel: StudentKernel):
        self.kernel = kernel
        self.deadline_seconds = 60.0
        self.outputs: list = []  # what the student's code printed during calls

    # ---------------------------------------------------------------- requests
    def request(self, op: str, *args):
        reply, execution = self.kernel.request(op, *args, timeout=self.deadline_seconds)
        self.outputs.extend(execution.outputs)
        if execution.status == "died" or (execution.killed and execution.status != "timeout"):
            raise KernelDied("the student's kernel died during a call (a crash, os._exit, or a resource limit)")
        if execution.status == "timeout":
            raise CellTimeout(f"the student's code ran longer than {self.deadline_seconds:g} s")
        if execution.status == "output_limit":
            raise OutputLimit(f"the student's code printed more than {self.kernel.limits.output} bytes")
        if reply is None:
            raise ProtocolError("the student's kernel gave no valid answer "
                                "(was the notebook's code changing the kernel itself?)")
        if "error" in reply:
            raise _student_exception(reply["error"])
        return reply.get("ok")

    def decode(self, tree):
        try:
            return codec.decode(tree, remote=self._proxy)
        except (codec.CodecError, RecursionError) as err:
            raise ProtocolError(f"the student's code returned something that is not data: {err}") from None

    def encode(self, value):
        try:
            return codec.encode(value, remote=_remote_info)
        except codec.CodecError as err:
            raise TypeError(f"cannot pass this value to the student's code: {err}") from None

    def _proxy(self, info):
        if type(info) is not dict or type(info.get("handle")) is not int:
            raise codec.CodecError("malformed remote object")
        cls = RemoteIterator if info.get("kind") == "iterator" else Remote
        return cls(self, info)

    # ---------------------------------------------------------------- names
    def lookup(self, names) -> dict:
        """``name -> proxy or value`` for the names the student's namespace defines."""
        answer = self.request("describe", sorted(names))
        if type(answer) is not dict:
            raise ProtocolError("malformed answer to a name lookup")
        found = {}
        for name in names:
            entry = answer.get(name)
            if type(entry) is not dict or entry.get("missing"):
                continue
            if "remote" in entry:
                found[name] = self._proxy(entry["remote"])
            elif "value" in entry:
                found[name] = self.decode(entry["value"])
        return found

    def call(self, handle: int, args: tuple, kwargs: dict):
        answer = self.request("call", handle, self.encode(tuple(args)), self.encode(dict(kwargs)))
        if type(answer) is not dict:
            raise ProtocolError("malformed answer to a call")
        result = self.decode(answer.get("result"))
        _write_back(args, self.decode(answer.get("args")))
        _write_back(kwargs, self.decode(answer.get("kwargs")))
        return result


def _remote_info(value):
    if isinstance(value, Remote):
        return {"handle": object.__getattribute__(value, "_info")["handle"]}
    raise codec.CodecError(f"a {type(value).__name__} is not data")


def _student_exception(error) -> BaseException:
    if type(error) is not dict:
        return ProtocolError("malformed error report")
    name, message = str(error.get("type", "Exception"))[:100], str(error.get("message", ""))[:4000]
    trace = str(error.get("traceback", ""))[-4000:]
    cls = _BUILTIN_EXCEPTIONS.get(name) if error.get("builtin") else None
    text = message + (f"\n\nin the student's code:\n{trace}" if trace else "")
    if cls is None or cls in (AssertionError,):
        return RemoteError(f"{name}: {text}")
    try:
        return cls(text)
    except Exception:
        return RemoteError(f"{name}: {text}")


def _write_back(original, after) -> None:
    """Copy into ``original`` (in place) what the student's code did to its copy, ``after``."""
    if isinstance(original, np.ndarray) and isinstance(after, np.ndarray):
        if original.shape == after.shape and original.flags.writeable and not np.array_equal(
                original, after, equal_nan=original.dtype.kind in "fc"):
            np.copyto(original, after, casting="unsafe")
    elif isinstance(original, np.random.Generator) and isinstance(after, np.random.Generator):
        if type(original.bit_generator) is type(after.bit_generator):
            original.bit_generator.state = after.bit_generator.state
    elif isinstance(original, (list, tuple)) and isinstance(after, (list, tuple)):
        if len(original) == len(after):
            for i, (a, b) in enumerate(zip(original, after)):
                if _mutable(a):
                    _write_back(a, b)
                elif isinstance(original, list) and not _same(a, b):
                    original[i] = b
        elif isinstance(original, list):
            original[:] = after
    elif isinstance(original, dict) and isinstance(after, dict):
        for key in [k for k in original if k not in after]:
            del original[key]
        for key, value in after.items():
            if key in original and _mutable(original[key]):
                _write_back(original[key], value)
            elif key not in original or not _same(original[key], value):
                original[key] = value


def _mutable(value) -> bool:
    return isinstance(value, (np.ndarray, np.random.Generator, list, dict, tuple))


def _same(a, b) -> bool:
    try:
        return type(a) is type(b) and bool(a == b)
    except Exception:
        return False


class Remote:
    """A student's object that stays in the sandbox: a function, a class, an instance."""

    __course_judge_remote__ = True
    __slots__ = ("_session", "_info")

    def __init__(self, session: StudentSession, info: dict):
        object.__setattr__(self, "_session", session)
        object.__setattr__(self, "_info", info)

    def _handle(self) -> int:
        return object.__getattribute__(self, "_info")["handle"]

    def __call__(self, *args, **kwargs):
        return object.__getattribute__(self, "_session").call(self._handle(), args, kwargs)

    def __getattr__(self, name):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        session = object.__getattribute__(self, "_session")
        return session.decode(session.request("getattr", self._handle(), name))

    def __setattr__(self, name, value):
        session = object.__getattribute__(self, "_session")
        session.request("setattr", self._handle(), name, session.encode(value))

    def __iter__(self):
        session = object.__getattribute__(self, "_session")
        return session.decode(session.request("iter", self._handle()))

    def __len__(self):
        length = object.__getattribute__(self, "_session").request("len", self._handle())
        if type(length) is not int or length < 0:
            raise ProtocolError("len() of a student's object did not return a count")
        return length

    def __getitem__(self, key):
        session = object.__getattribute__(self, "_session")
        return session.decode(session.request("getitem", self._handle(), session.encode(key)))

    def __repr__(self):
        info = object.__getattribute__(self, "_info")
        return f"<student's {str(info.get('type', 'object'))[:60]} (in the sandbox)>"

    @property
    def __name__(self):
        info = object.__getattribute__(self, "_info")
        return str(info.get("type", "object"))[:60]


class RemoteIterator(Remote):
    """A student's generator or iterator: ``next`` runs one step in the sandbox."""

    __slots__ = ()

    def __iter__(self):
        return self

    def __next__(self):
        session = object.__getattribute__(self, "_session")
        answer = session.request("next", self._handle())
        if type(answer) is not dict:
            raise ProtocolError("malformed answer to next()")
        if answer.get("stop"):
            raise StopIteration
        return session.decode(answer.get("value"))
