"""Warm kernels for the report runner: fork pre-imported, pre-warmed Python kernels.

A cold ``python -m ipykernel_launcher`` spends about 2.5 s importing numpy, pandas, matplotlib,
IPython and ``analysis``, and every notebook then rebuilds the same model caches (the step-model
grids behind :func:`analysis.utilization.point` take seconds per cluster). The *kernel farm*
pays both once per batch:

* ``python -m analysis.kernels DIR SPEC`` (the *base zygote*) imports everything a report
  kernel imports and listens on ``DIR/base.sock``;
* it forks a *warm zygote* that evaluates every scenario of the batch once
  (:func:`analysis.results.write_cache`, which also fills the disk cache) and warms the
  per-cluster model caches; after each scenario it forks a *generation* zygote holding all
  that is warm so far, listening on ``DIR/warm-<k>.sock`` (``DIR/warm-<k>.json`` lists the
  scenarios it has; ``DIR/warm.json``: all are ready; ``DIR/warm.failed``: warming failed);
* :class:`FarmKernelManager` (the kernel manager papermill uses in the runner) asks a zygote to
  ``fork()`` a kernel instead of starting a new interpreter. The child becomes an ordinary
  ipykernel (same argv, environment and working directory as a normal launch), in its own
  session, with its stdout/stderr in a log file, and dies with its zygote.

Each forked kernel is a separate process that starts from the same warm memory image, so
kernels stay isolated from each other; copy-on-write keeps the memory shared. The manager
falls back to an ordinary launch when no farm is running (JupyterLab, other platforms).
Kernels use the IPC transport (Unix sockets), so ipykernel has no reason to warn about TCP
without encryption and no ports are raced for.
"""
from __future__ import annotations

import contextlib
import ctypes
import gc
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from queue import Empty

from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.manager import AsyncKernelManager
from traitlets import CaselessStrEnum, DottedObjectName, Type

FARM_ENV = "CLUSTER_ECONOMICS_KERNEL_FARM"
INLINE_BACKEND = "module://matplotlib_inline.backend_inline"
PRELOAD = ("numpy", "pandas", "scipy.stats", "matplotlib", "matplotlib.pyplot", "seaborn",
           "numpy_financial", "yaml", "IPython", "ipykernel.kernelapp", "ipykernel.ipkernel", "analysis.notebook",
           "analysis.evaluate", "analysis.results", "analysis.plots", "analysis.catalog", "analysis.calibration",
           "analysis.cost", "analysis.economics", "analysis.goodput", "analysis.goodput.simulate", "analysis.goodput.validation",
           "analysis.heterogeneity", "analysis.inference",
           "analysis.power", "analysis.training", "analysis.uncertainty", "analysis.utilization", "analysis.report",
           # every report's view module, and what ipykernel imports when a kernel starts (its debugger
           # and debugpy: ~150 modules, a fifth of a second per kernel otherwise)
           "analysis.report.brief", "analysis.report.economics", "analysis.report.executive", "analysis.report.fleet",
           "analysis.report.goodput", "analysis.report.inference", "analysis.report.overview", "analysis.report.power",
           "analysis.report.step", "analysis.report.sweep", "pandas.io.formats.html", "IPython.core.pylabtools",
           "ipykernel.debugger", "IPython.core.debugger", "IPython.core.completerlib", "IPython.extensions.storemagic",
           "psutil", "sqlite3", "tornado.queues", "tornado.platform.asyncio")


# --------------------------------------------------------------------------- process helpers
def die_with_parent(sig: int = signal.SIGTERM) -> None:
    """Ask Linux to send ``sig`` to this process when its parent dies (no-op elsewhere)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, int(sig), 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            state = handle.read().rsplit(b")", 1)[1].split()[0]
        return state not in (b"Z", b"X")
    except FileNotFoundError:
        return False
    except (OSError, IndexError):
        try:
            os.kill(pid, 0)
            return True
        except ProcessLookupError:
            return False
        except PermissionError:
            return True


class ForkedKernel:
    """The ``subprocess.Popen`` surface jupyter_client's LocalProvisioner uses, for a kernel
    forked by a zygote (its parent), so it cannot be waited for: liveness comes from /proc."""

    stdin = stdout = stderr = None

    def __init__(self, pid: int, log: str | None = None):
        self.pid, self.log, self.returncode = pid, log, None

    def poll(self):
        if self.returncode is None and not _alive(self.pid):
            self.returncode = 1
        return self.returncode

    def wait(self, timeout: float | None = None):
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(f"kernel {self.pid}", timeout)
            time.sleep(0.02)
        return self.returncode

    def send_signal(self, sig: int) -> None:
        try:
            os.kill(self.pid, sig)
        except ProcessLookupError:
            pass

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


def log_tail(path: str | None, lines: int = 3) -> str:
    """The last non-empty lines of a kernel's log (why it died), or ``""``."""
    try:
        text = Path(path).read_text(errors="replace") if path else ""
    except OSError:
        return ""
    tail = [line.strip() for line in text.splitlines() if line.strip()][-lines:]
    return " | ".join(tail)


# --------------------------------------------------------------------------- kernel manager
LAST_KERNEL_LOG: list[str | None] = [None]   # the log of the kernel this process started last
LAST_KERNEL_PID: list[int | None] = [None]


class ReadyKernelClient(AsyncKernelClient):
    """jupyter_client's client, but ready as soon as the kernel has answered: jupyter_client's own
    check ends only after IOPub has been silent for 0.2 s, a third of a forked kernel's start-up.
    This one returns when IOPub carries the kernel's *idle* status for its ``kernel_info``
    request, which proves both channels connected and leaves nothing of the start-up to flush."""

    async def _async_wait_for_ready(self, timeout: float | None = None) -> None:
        deadline = time.monotonic() + (float("inf") if timeout is None else timeout)
        while True:
            request_id = self.kernel_info()
            try:
                reply = await self.shell_channel.get_msg(timeout=1)
            except Empty:
                reply = None
            if reply is not None and reply["msg_type"] == "kernel_info_reply":
                settle = time.monotonic() + 0.2
                while (left := settle - time.monotonic()) > 0:
                    try:
                        msg = await self.iopub_channel.get_msg(timeout=left)
                    except Empty:
                        break
                    if (msg["msg_type"] == "status" and msg["content"].get("execution_state") == "idle"
                            and msg["parent_header"].get("msg_id") == request_id):
                        self._handle_kernel_info_reply(reply)
                        return
                    if msg["msg_type"] == "iopub_welcome":
                        break        # IOPub subscribed only now, after the status went out: ask again
            if not await self._async_is_alive():
                raise RuntimeError("Kernel died before replying to kernel_info")
            if time.monotonic() > deadline:
                raise RuntimeError(f"Kernel didn't respond in {timeout:.0f} seconds")

    wait_for_ready = _async_wait_for_ready   # AsyncKernelClient binds the name to its own at class creation


class QuietKernelManager(AsyncKernelManager):
    """Kernels over IPC (Unix sockets): no 'running over TCP without encryption' warning, no
    port races; liveness, interrupts and timeouts behave as with papermill's own manager.
    Its clients are :class:`ReadyKernelClient`."""

    transport = CaselessStrEnum(["tcp", "ipc"], default_value="ipc", config=True)
    client_class = DottedObjectName("analysis.kernels.ReadyKernelClient")
    client_factory = Type(default_value=ReadyKernelClient, klass=AsyncKernelClient)   # what client() builds

    def _ip_default(self) -> str:
        # jupyter_client's IPC default is the relative "kernel-ipc" when the connection file is not
        # named yet: two kernels in one folder would then bind the same socket. One absolute path each.
        if self.transport == "ipc":
            return os.path.join(tempfile.gettempdir(), f"ce-kernel-{uuid.uuid4().hex[:16]}-ipc")
        return super()._ip_default()


def _launchable(cmd: list[str]) -> bool:
    return (len(cmd) >= 3 and cmd[1:3] == ["-m", "ipykernel_launcher"]
            and os.path.realpath(cmd[0]) == os.path.realpath(sys.executable))


def request(sock_path: str | Path, payload: dict, timeout: float = 30.0) -> dict:
    """One JSON request to a zygote; its JSON reply."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(timeout)
        conn.connect(str(sock_path))
        conn.sendall(json.dumps(payload).encode() + b"\n")
        data = b""
        while not data.endswith(b"\n"):
            chunk = conn.recv(65536)
            if not chunk:
                break
            data += chunk
    return json.loads(data or b"{}")


#: How long a kernel waits for the base zygote of a farm that is still starting (it imports for
#: about 2-3 s), rather than start cold: a cold start imports the same modules again (~2.5 s CPU).
BASE_WAIT_S = 15.0


def farm_socket(farm_dir: str | Path | None = None, wait_s: float = 0.0) -> Path | None:
    """The best zygote to fork from: warm when ready, else base, else ``None``. With ``wait_s``,
    wait that long for the base zygote of a farm that is starting (its log exists, it has neither
    listened nor failed)."""
    farm_dir = farm_dir or os.environ.get(FARM_ENV)
    if not farm_dir:
        return None
    directory = Path(farm_dir)
    deadline = time.monotonic() + wait_s
    while True:
        latest = _latest(directory, ".sock")
        if latest is not None:
            return latest
        base = directory / "base.sock"
        if base.exists():
            return base
        starting = (directory / "farm.log").exists() and not (directory / "base.failed").exists()
        if not starting or time.monotonic() >= deadline:
            return None
        time.sleep(0.05)


class FarmKernelManager(QuietKernelManager):
    """Forks kernels from the runner's farm (``CLUSTER_ECONOMICS_KERNEL_FARM``) when it runs."""

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw) -> None:
        sock = farm_socket(wait_s=BASE_WAIT_S)
        LAST_KERNEL_LOG[0] = LAST_KERNEL_PID[0] = None
        if sock is not None and _launchable(kernel_cmd) and self.provisioner is not None:
            log = str(sock.parent / f"kernel-{uuid.uuid4().hex[:12]}.log")
            try:
                reply = request(sock, {"op": "spawn", "argv": kernel_cmd[3:], "env": dict(kw.get("env") or os.environ),
                                       "cwd": str(kw.get("cwd") or os.getcwd()), "log": log})
            except (OSError, ValueError):
                reply = {}
            pid = reply.get("pid")
            if pid:
                prov = self.provisioner
                prov.process = ForkedKernel(int(pid), log)
                prov.pid, prov.pgid, prov.cwd = int(pid), int(pid), kw.get("cwd")
                LAST_KERNEL_LOG[0], LAST_KERNEL_PID[0] = log, int(pid)
                self._reconcile_connection_info(prov.connection_info)
                return
        await super()._async_launch_kernel(kernel_cmd, **kw)


# --------------------------------------------------------------------------- zygote (server side)
def _preload() -> None:
    import importlib
    import warnings

    os.environ.setdefault("MPLBACKEND", INLINE_BACKEND)  # as ipykernel sets it; the backend module is not imported here
    # The zygote runs with frozen modules on (no -Xfrozen_modules=off as in ipykernel's kernelspec):
    # tell debugpy, as ipykernel's kernelspec then does, so importing it prints no warning.
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in PRELOAD:
            try:
                importlib.import_module(name)
            except Exception:  # noqa: BLE001 - a module that fails to import fails in the kernel, visibly
                pass
    sys.modules.pop("matplotlib_inline.backend_inline", None)
    with contextlib.suppress(Exception), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from analysis import plots
        plots.warm_up()


def _warm(spec: dict, directory: Path) -> dict:
    """Evaluate each scenario once (writing the disk cache) and warm the model caches. After each
    scenario a *generation* zygote is forked that serves kernels with everything warmed so far
    (``warm-<k>.sock``, ``warm-<k>.json``), so a scenario's notebooks start as soon as it is ready."""
    from analysis import results, utilization
    from analysis.scenario import load_scenario

    report = {}
    if spec.get("cache_dir"):
        os.environ[results.CACHE_ENV] = spec["cache_dir"]   # memoized shared work (MFU grids, fits) goes there too
    for k, arg in enumerate(spec.get("scenarios", []), 1):
        started = time.perf_counter()
        try:
            utilization.point(load_scenario(arg))
            if spec.get("cache_dir"):
                results.write_cache(arg, spec.get("quick", False), cache_dir=spec["cache_dir"])
            results.scenario_results(arg, spec.get("quick", False))
            report[arg] = {"seconds": round(time.perf_counter() - started, 2)}
        except Exception as exc:  # noqa: BLE001 - the notebooks of that scenario then fail with the real traceback
            report[arg] = {"error": f"{type(exc).__name__}: {exc}"[:300]}
        if k == 1:
            _warm_shared(spec)
        _generation(directory, k, report)
    return report


def _warm_shared(spec: dict) -> None:
    """Scenario-independent figures every scenario's report shows (computed once, inherited by
    every kernel forked afterwards and memoized on disk for kernels forked before)."""
    try:
        from analysis.report import inference as inference_view
        inference_view.shared_results(spec.get("quick", False))
    except Exception:  # noqa: BLE001 - the notebook that needs it recomputes it and shows the real traceback
        pass


def _generation(directory: Path, k: int, report: dict) -> None:
    pid = os.fork()
    if pid:
        _CHILDREN.add(pid)
        return
    code = 0
    try:
        _CHILDREN.clear()
        die_with_parent(signal.SIGKILL)
        # Everything warmed so far is inherited by every kernel forked from here: move it out of the
        # garbage collector's reach (gc.freeze), so the kernels' collections neither walk it (CPU)
        # nor touch its pages (copy-on-write copies).
        gc.collect()
        gc.freeze()
        sock = _listen(directory / f"warm-{k}.sock")
        tmp = directory / f".warm-{k}.json"
        tmp.write_text(json.dumps({"generation": k, "ready": list(report), "report": report}))
        os.replace(tmp, directory / f"warm-{k}.json")
        _serve(sock)
    except BaseException:  # noqa: BLE001
        code = 1
    finally:
        os._exit(code)


def _latest(directory: Path, suffix: str) -> Path | None:
    found = []
    for path in Path(directory).glob(f"warm-*{suffix}"):
        stem = path.name[len("warm-"):-len(suffix)]
        if stem.isdigit():
            found.append((int(stem), path))
    return max(found)[1] if found else None


_CHILDREN: set[int] = set()   # kernels (and the warm zygote) forked by this zygote, not yet reaped


CPU_LOG: list[Path | None] = [None]   # where a zygote notes the CPU seconds of each kernel it reaps


def _reap(*_args) -> None:
    try:
        while True:
            pid, _status, usage = os.wait4(-1, os.WNOHANG)
            if pid == 0:
                return
            _CHILDREN.discard(pid)
            if CPU_LOG[0] is not None:
                with contextlib.suppress(OSError), open(CPU_LOG[0], "a") as handle:
                    handle.write(f"{pid} {usage.ru_utime + usage.ru_stime:.3f}\n")
    except ChildProcessError:
        return


def kernel_cpu_seconds(farm_dir: str | Path) -> dict[int, float]:
    """CPU seconds (user + system) of each finished kernel of a farm, by pid."""
    try:
        lines = (Path(farm_dir) / "cpu.log").read_text().split("\n")
    except OSError:
        return {}
    out = {}
    for line in lines:
        parts = line.split()
        if len(parts) == 2:
            out[int(parts[0])] = float(parts[1])
    return out


def _shutdown(*_args) -> None:
    """SIGTERM: stop every child, wait for it (so its CPU time is accounted to the runner), exit."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    for pid in list(_CHILDREN):
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            _CHILDREN.discard(pid)
    deadline = time.monotonic() + 5
    while _CHILDREN and time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid:
            _CHILDREN.discard(pid)
        else:
            time.sleep(0.02)
    for pid in list(_CHILDREN):
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
    os._exit(0)


def _listen(path: Path) -> socket.socket:
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.unlink(missing_ok=True)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(tmp))
    sock.listen(16)
    os.replace(tmp, path)   # appears only once it accepts connections
    return sock


def _kernel_child(req: dict) -> None:
    """Become an ipykernel (runs in the forked child; never returns)."""
    code = 1
    try:
        os.setsid()
        die_with_parent(signal.SIGKILL)
        for sig in (signal.SIGCHLD, signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_DFL)
        log = os.open(req["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(log)
        os.close(devnull)
        env = dict(req["env"], JPY_PARENT_PID=str(os.getppid()))
        os.environ.clear()
        os.environ.update(env)
        os.environ.setdefault("MPLBACKEND", INLINE_BACKEND)
        os.chdir(req["cwd"])
        sys.path[0] = os.getcwd()
        sys.argv = [sys.argv[0], *req["argv"]]
        import random
        import warnings

        random.seed()
        if "numpy" in sys.modules:
            sys.modules["numpy"].random.seed()
        if hasattr(warnings, "_filters_mutated"):
            warnings._filters_mutated()   # warnings seen while preloading are shown again, as in a fresh process
        from ipykernel import kernelapp

        # parent_handle's default was read from JPY_PARENT_PID when the zygote imported ipykernel
        kernelapp.IPKernelApp.launch_instance(parent_handle=os.getppid())
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # noqa: BLE001
        import traceback

        traceback.print_exc()
    finally:
        os._exit(code)


def _serve(sock: socket.socket) -> None:
    while True:
        conn, _ = sock.accept()
        try:
            line = b""
            while not line.endswith(b"\n"):
                chunk = conn.recv(1 << 20)
                if not chunk:
                    break
                line += chunk
            req = json.loads(line or b"{}")
            if req.get("op") == "spawn":
                pid = os.fork()
                if pid == 0:
                    sock.close()
                    conn.close()
                    _kernel_child(req)
                _CHILDREN.add(pid)
                reply = {"pid": pid}
            else:
                reply = {"pong": os.getpid()}
            conn.sendall(json.dumps(reply).encode() + b"\n")
        except (OSError, ValueError):
            pass
        finally:
            conn.close()


def serve(directory: str | Path, spec: dict) -> None:
    """Run the base zygote in ``directory`` (``spec``: scenarios, quick, cache_dir)."""
    directory = Path(directory)
    die_with_parent(signal.SIGTERM)
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # Ctrl-C is the runner's to handle
    _preload()
    gc.collect()
    gc.freeze()   # what the preload built is shared by every fork: keep the forks' collections off it
    CPU_LOG[0] = directory / "cpu.log"
    signal.signal(signal.SIGCHLD, _reap)
    signal.signal(signal.SIGTERM, _shutdown)
    base = _listen(directory / "base.sock")
    if spec.get("scenarios"):
        pid = os.fork()
        if pid == 0:   # the warm zygote
            base.close()
            _CHILDREN.clear()
            die_with_parent(signal.SIGKILL)
            try:
                report = _warm(spec, directory)
                (directory / ".warm.json").write_text(json.dumps(report))
                os.replace(directory / ".warm.json", directory / "warm.json")
            except BaseException as exc:  # noqa: BLE001
                (directory / "warm.failed").write_text(f"{type(exc).__name__}: {exc}")
                os._exit(1)
            while True:   # the generations serve; this process stays their parent until SIGTERM
                signal.pause()
        _CHILDREN.add(pid)
    _serve(base)


class Farm:
    """The runner's handle on a kernel farm (one base zygote and its warm child)."""

    def __init__(self, directory: str | Path, scenarios: list[str], quick: bool, cache_dir: str | Path | None):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        spec = {"scenarios": list(scenarios), "quick": bool(quick), "cache_dir": str(cache_dir) if cache_dir else None}
        env = dict(os.environ)
        self._log = open(self.dir / "farm.log", "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "analysis.kernels", str(self.dir), json.dumps(spec)],
                                     stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log, env=env,
                                     preexec_fn=die_with_parent)
        self.started = time.perf_counter()

    def state(self) -> str:
        """``"warm"`` (every scenario ready), ``"failed"`` (kernels start from base or cold), or ``"pending"``."""
        if (self.dir / "warm.json").exists() and _latest(self.dir, ".sock") is not None:
            return "warm"
        if (self.dir / "warm.failed").exists() or self.proc.poll() is not None:
            return "failed"
        return "pending"

    def ready(self) -> set[str]:
        """Scenario arguments warmed so far (their notebooks can start)."""
        latest = _latest(self.dir, ".json")
        try:
            return set(json.loads(latest.read_text())["ready"]) if latest else set()
        except (OSError, ValueError, KeyError):
            return set()

    def warm_report(self) -> dict:
        try:
            return json.loads((self.dir / "warm.json").read_text())
        except (OSError, ValueError):
            return {}

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()   # the zygote stops its warm child and kernels, and waits for them
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self._log.close()


if __name__ == "__main__":
    _base_pid = os.getpid()
    try:
        serve(sys.argv[1], json.loads(sys.argv[2]) if len(sys.argv) > 2 else {})
    except BaseException as exc:
        # the base zygote failed before it listened (not a forked child leaving): kernels waiting
        # for it start cold at once
        if os.getpid() == _base_pid and not (Path(sys.argv[1]) / "base.sock").exists():
            with contextlib.suppress(OSError):
                (Path(sys.argv[1]) / "base.failed").write_text(f"{type(exc).__name__}: {exc}")
        raise
