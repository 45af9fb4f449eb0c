"""A student's kernel, started in the sandbox, driven over the Jupyter protocol.

``StudentKernel.execute`` runs one cell with a wall-clock limit: past it the kernel gets an
``interrupt_request`` (SIGINT to bwrap would kill the whole sandbox), and a kernel that does not
stop within ``grace`` seconds is killed. A kernel that dies (``os._exit``, a segfault, a limit
hit) is reported as such; the judge starts a new one. Messages larger than ``MAX_MESSAGE``
are refused by the socket itself, and a cell's printed text is capped.
"""

from __future__ import annotations

import json
import os
import pathlib
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

import nbformat
import zmq
from jupyter_client import BlockingKernelClient
from jupyter_client.connect import channel_socket_types

from grader.judge import sandbox, stop
from grader.judge.agent import REPLY_TYPE, REQUEST_TYPE

MAX_MESSAGE = 32 << 20
KERNEL_ARGV = ["-m", "ipykernel_launcher", "-f", f"{sandbox.INSIDE_IPC}/connection.json",
               "--HistoryManager.enabled=False", "--IPKernelApp.log_level=CRITICAL"]
_BOOTSTRAP = ("import course_judge_agent as _cja\n"
              "__course_judge__ = _cja.install(get_ipython().user_ns)\n"
              "del _cja\n")


class KernelDied(BaseException):
    """The kernel stopped (crash, ``os._exit``, a resource limit): a new one is needed."""


class CellTimeout(BaseException):
    """The student's code ran past the time limit (the kernel was interrupted or killed)."""


class OutputLimit(BaseException):
    """The student's code printed more than the output limit."""


@dataclass
class Execution:
    """What running one piece of code in the kernel produced."""

    status: str                      # "ok", "error", "timeout", "died" or "output_limit"
    outputs: list = field(default_factory=list)   # nbformat outputs
    killed: bool = False             # the kernel had to be killed: it is gone
    reply: dict | None = None        # a request's reply (shell message content)


class _Client(BlockingKernelClient):
    def _create_connected_socket(self, channel, identity=None):
        url = self._make_url(channel)
        sock = self.context.socket(channel_socket_types[channel])
        sock.setsockopt(zmq.MAXMSGSIZE, MAX_MESSAGE)  # a huge message drops the connection
        sock.linger = 0
        if identity:
            sock.identity = identity
        sock.connect(url)
        return sock


class StudentKernel:
    """One kernel for one submission; never reused for another."""

    def __init__(self, spec: sandbox.SandboxSpec, startup_timeout: float = 60.0, grace: float = 5.0):
        self.spec, self.grace = spec, grace
        self.limits = spec.limits
        self._private_dir = None
        self._kernel_pid = None
        self.process = None
        self.client = None
        self._start(startup_timeout)

    # ------------------------------------------------------------------ life cycle
    def _connection(self, ipc_prefix: str) -> dict:
        return {"transport": "ipc", "ip": f"{ipc_prefix}/k", "shell_port": 1, "iopub_port": 2,
                "stdin_port": 3, "control_port": 4, "hb_port": 5, "key": secrets.token_hex(16),
                "signature_scheme": "hmac-sha256", "kernel_name": "python3"}

    def _start(self, timeout: float) -> None:
        if self.spec.use_bwrap:
            connection = self._connection(sandbox.INSIDE_IPC)
            self.process = sandbox.start(self.spec, connection, KERNEL_ARGV)
            outside = dict(connection, ip=f"{self.process.ipc_dir}/k")
        else:
            outside = self._start_unconfined()
        try:
            self.client = _Client()
            self.client.load_connection_info(outside)
            self.client.start_channels(hb=False)  # liveness is the process itself, not heartbeats
            self._wait_ready(timeout)
            self._kernel_pid = self._find_kernel_pid()
            result = self.execute(_BOOTSTRAP, timeout=timeout)
        except BaseException:  # a kernel that did not start (or a stop request) leaves nothing open
            self.shutdown()
            raise
        if result.status != "ok":
            self.shutdown()
            raise KernelDied(f"the judge's agent did not start: {result.outputs}")

    def _wait_ready(self, timeout: float) -> None:
        """Until the kernel answers ``kernel_info``; fail early if its process ends."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            stop.check()
            if not self.alive():
                raise KernelDied("the kernel's process ended while it started")
            msg_id = self.client.kernel_info()
            wait_until = min(deadline, time.monotonic() + 2.0)
            while time.monotonic() < wait_until:
                try:
                    reply = self.client.shell_channel.get_msg(timeout=0.2)
                except Exception:  # queue.Empty
                    stop.check()
                    if not self.alive():
                        raise KernelDied("the kernel's process ended while it started") from None
                    continue
                if reply.get("parent_header", {}).get("msg_id") == msg_id:
                    while True:  # drop the start-up messages on iopub
                        try:
                            self.client.iopub_channel.get_msg(timeout=0.05)
                        except Exception:
                            return
        raise KernelDied(f"the kernel did not answer within {timeout:g} s")

    def _find_kernel_pid(self) -> int | None:
        """The kernel's host pid: the one child of the sandbox's init (bwrap's pid 1)."""
        import psutil

        if not self.spec.use_bwrap:
            return self.process.pid
        try:
            children = psutil.Process(self.process.pid).children()
        except psutil.Error:
            return None
        return children[0].pid if len(children) == 1 else None

    def _start_unconfined(self) -> dict:
        """``--no-sandbox``: a plain kernel in a private temporary folder (NOT confined)."""
        self._private_dir = pathlib.Path(tempfile.mkdtemp(prefix="judge-"))
        judge_dir = self._private_dir / "judge"
        judge_dir.mkdir()
        for name, path in sandbox.AGENT_FILES.items():
            shutil.copyfile(path, judge_dir / name)
        connection = self._connection(str(self._private_dir))
        conn_file = self._private_dir / "connection.json"
        conn_file.write_text(json.dumps(connection))
        python = self.spec.python() if self.spec.python().exists() else pathlib.Path(sys.executable)
        env = sandbox.sandbox_environment(self.spec, str(self._private_dir))
        env["PYTHONPATH"] = f"{judge_dir}:{sandbox.REPO_ROOT}"
        argv = [str(python)] + [a.replace(f"{sandbox.INSIDE_IPC}/connection.json", str(conn_file))
                                for a in KERNEL_ARGV]
        popen = subprocess.Popen(argv, env=env, cwd=self._private_dir, stdin=subprocess.DEVNULL,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                 start_new_session=True)
        self.process = sandbox.SandboxProcess(popen, str(self._private_dir), popen.pid)
        return connection

    def alive(self) -> bool:
        return self.process is not None and self.process.alive()

    def shutdown(self) -> None:
        if self.client is not None:
            self.client.stop_channels()
            self.client = None
        if self.process is not None:
            self.process.kill()
        if self._private_dir is not None:
            shutil.rmtree(self._private_dir, ignore_errors=True)
            self._private_dir = None

    # ------------------------------------------------------------------ execution
    def interrupt(self) -> None:
        msg = self.client.session.msg("interrupt_request", content={})
        self.client.control_channel.send(msg)

    def execute(self, code: str, timeout: float) -> Execution:
        """Run ``code``; wait at most ``timeout`` seconds (then interrupt, then kill)."""
        if not self.alive():
            return Execution("died", killed=True)
        msg_id = self.client.execute(code, store_history=False, allow_stdin=False)
        return self._collect(msg_id, timeout)

    def request(self, op: str, *args, timeout: float, request_id: str | None = None) -> tuple[dict | None, Execution]:
        """Ask the agent (a ``course_judge_request`` shell message); return its answer and the record."""
        if not self.alive():
            return None, Execution("died", killed=True)
        request_id = request_id or secrets.token_hex(8)
        msg = self.client.session.msg(REQUEST_TYPE, {"id": request_id, "op": op, "args": list(args)})
        self.client.shell_channel.send(msg)
        result = self._collect(msg["header"]["msg_id"], timeout, reply_type=REPLY_TYPE)
        reply = result.reply
        if isinstance(reply, dict) and reply.get("id") == request_id:
            return reply, result
        return None, result

    def _collect(self, msg_id: str, timeout: float, reply_type: str | None = None) -> Execution:
        """Gather what the kernel publishes for ``msg_id`` until it is idle (and, for a request,
        its reply has come); interrupt past ``timeout``, kill ``grace`` seconds later."""
        result = Execution("ok")
        deadline = time.monotonic() + timeout
        interrupted_at = None
        printed = 0
        idle, replied = False, reply_type is None
        iopub, shell = self.client.iopub_channel, self.client.shell_channel
        poller = zmq.Poller()
        poller.register(iopub.socket, zmq.POLLIN)
        if reply_type is not None:
            poller.register(shell.socket, zmq.POLLIN)
        while not (idle and replied):
            stop.check()
            now = time.monotonic()
            if interrupted_at is None and now > deadline:
                result.status = "timeout" if result.status == "ok" else result.status
                self.interrupt()
                interrupted_at = now
            if interrupted_at is not None and now > interrupted_at + self.grace:
                self.shutdown()
                result.killed = True
                return result
            if not self.alive():
                result.status, result.killed = "died", True
                self.shutdown()
                return result
            ready = dict(poller.poll(50))
            if reply_type is not None and shell.socket in ready:
                try:
                    msg = shell.get_msg(timeout=0)
                except Exception:  # a message that could not be decoded
                    msg = None
                if msg and msg.get("parent_header", {}).get("msg_id") == msg_id and msg.get("msg_type") == reply_type:
                    result.reply, replied = msg.get("content"), True
            if iopub.socket not in ready:
                continue
            try:
                msg = iopub.get_msg(timeout=0)
            except Exception:  # queue.Empty, or a message that could not be decoded
                continue
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "status" and content.get("execution_state") == "idle":
                idle = True
                continue
            if kind == "error" and result.status == "ok":
                result.status = "error"
            if kind in ("stream", "error", "execute_result", "display_data"):
                printed += len(json.dumps(content))
                if printed > self.limits.output:
                    if interrupted_at is None:
                        result.status = "output_limit"
                        self.interrupt()
                        interrupted_at = time.monotonic()
                    continue
                result.outputs.append(nbformat.v4.output_from_msg(msg))
        self.process.kill_strays(self._kernel_pid)
        return result
