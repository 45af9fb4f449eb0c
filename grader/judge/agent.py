"""The judge's agent: runs inside the student's (sandboxed) kernel and answers the grader.

The grader sends a ``course_judge_request`` shell message; the agent resolves names in the
student's namespace, calls functions and methods with arguments decoded from data, and answers
with a ``course_judge_reply`` message on the same channel (no cell is run for it). Objects
that are not data (functions, class instances, generators) stay here, in a registry, and cross
as handles. Whatever this module answers is only data to the grader, which trusts none of it:
a student who tampers with the agent changes only what their own functions seem to return.

Inside the sandbox this file is ``/opt/judge/course_judge_agent.py`` and imports the codec as
``course_judge_codec``.
"""

from __future__ import annotations

import json
import traceback
import types

try:
    import course_judge_codec as codec
except ImportError:  # imported from the repository (tests)
    from grader.judge import codec

REQUEST_TYPE, REPLY_TYPE = "course_judge_request", "course_judge_reply"
_TRACEBACK_CHARS = 4000


class Agent:
    def __init__(self, namespace: dict):
        self.namespace = namespace
        self.objects: dict[int, object] = {}
        self.handles: dict[int, int] = {}  # id(obj) -> handle

    # -------------------------------------------------------------- registry
    def _handle(self, obj) -> dict:
        key = id(obj)
        if key not in self.handles:
            handle = len(self.objects) + 1
            self.objects[handle] = obj
            self.handles[key] = handle
        if isinstance(obj, type):
            kind = "class"
        elif isinstance(obj, types.GeneratorType) or (hasattr(type(obj), "__next__") and hasattr(type(obj), "__iter__")):
            kind = "iterator"
        elif callable(obj):
            kind = "callable"
        else:
            kind = "object"
        return {"handle": self.handles[key], "kind": kind, "type": type(obj).__name__}

    def _object(self, handle):
        if type(handle) is not int or handle not in self.objects:
            raise LookupError(f"no remote object {handle!r}")
        return self.objects[handle]

    def _encode(self, value):
        return codec.encode(value, remote=self._handle)

    def _decode(self, tree):
        return codec.decode(tree, remote=lambda info: self._object(info.get("handle")))

    # -------------------------------------------------------------- operations
    def op_describe(self, names):
        """``name -> {"missing": True}``, ``{"remote": handle info}`` or ``{"value": data}``."""
        out = {}
        for name in names:
            if name not in self.namespace or isinstance(self.namespace[name], types.ModuleType):
                out[name] = {"missing": True}
                continue
            value = self.namespace[name]
            if callable(value) or isinstance(value, types.GeneratorType):
                out[name] = {"remote": self._handle(value)}
                continue
            try:
                out[name] = {"value": codec.encode(value)}
            except codec.CodecError:
                out[name] = {"remote": self._handle(value)}
        return out

    def op_call(self, handle, args, kwargs):
        target = self._object(handle)
        args, kwargs = self._decode(args), self._decode(kwargs)
        result = target(*args, **kwargs)
        return {"result": self._encode(result), "args": self._encode(args), "kwargs": self._encode(kwargs)}

    def op_getattr(self, handle, name):
        return self._encode(getattr(self._object(handle), name))

    def op_setattr(self, handle, name, value):
        setattr(self._object(handle), name, self._decode(value))
        return None

    def op_next(self, handle):
        try:
            return {"value": self._encode(next(self._object(handle)))}
        except StopIteration:
            return {"stop": True}

    def op_iter(self, handle):
        return self._encode(iter(self._object(handle)))

    def op_len(self, handle):
        return len(self._object(handle))

    def op_getitem(self, handle, key):
        return self._encode(self._object(handle)[self._decode(key)])

    # -------------------------------------------------------------- entry points
    def answer(self, request) -> dict:
        """The reply (a JSON-able dict) to one request ``{"id", "op", "args"}``."""
        request_id = request.get("id") if isinstance(request, dict) else None
        reply = {"id": request_id}
        try:
            op = getattr(self, "op_" + str(request["op"]))
            reply["ok"] = op(*request.get("args", []))
        except BaseException as err:  # the student's exception, reported as data
            reply["error"] = {"type": type(err).__name__, "message": _safe_str(err),
                              "builtin": type(err).__module__ == "builtins",
                              "traceback": _student_traceback(err)}
        try:
            json.dumps(reply, allow_nan=True)
        except (TypeError, ValueError, RecursionError) as err:
            reply = {"id": request_id, "error": {"type": "CodecError", "builtin": False, "traceback": "",
                                                 "message": f"the answer could not be encoded: {err}"}}
        return reply

    def on_shell_message(self, stream, idents, msg) -> None:
        """Answer a ``course_judge_request`` shell message with a ``course_judge_reply``.

        The fast path: no cell is run, so no input transformers, history or display hooks.
        """
        kernel = get_kernel()
        reply = self.answer(msg.get("content", {}))
        kernel.session.send(stream, REPLY_TYPE, reply, parent=msg, ident=idents)


def get_kernel():
    from IPython import get_ipython

    return get_ipython().kernel


def _safe_str(err) -> str:
    try:
        return str(err)[:_TRACEBACK_CHARS]
    except BaseException:
        return "<the exception's message could not be read>"


def _student_traceback(err) -> str:
    try:
        frames = traceback.extract_tb(err.__traceback__)
        frames = [f for f in frames if not f.filename.endswith(("course_judge_agent.py", "agent.py"))]
        text = "".join(traceback.format_list(frames)) + "".join(traceback.format_exception_only(type(err), err))
        return text[-_TRACEBACK_CHARS:]
    except BaseException:
        return ""


def install(namespace: dict) -> Agent:
    """The agent for the kernel's user namespace, also answering ``REQUEST_TYPE`` messages."""
    agent = Agent(namespace)
    get_kernel().shell_handlers[REQUEST_TYPE] = agent.on_shell_message
    return agent
