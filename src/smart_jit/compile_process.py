"""Background compiles in a compile process, on another core.

Numba compiles holding the GIL about half the time, so a compile on a thread
of the serving process shares one core's worth of Python with the calls it
should not disturb.  Here the compile runs in a *compile server*: a child
process that does nothing but compile what its parent sends.  The result comes
back as what Numba's on-disk cache stores for an overload
(``CompileResult._reduce()``) and is rebuilt here, as a cache hit is.

The one entry point is :func:`compile`; the background worker thread is its
only caller, so one request is in flight at a time.

- The server is started with ``subprocess`` (a fresh interpreter: never a
  fork of a process with LLVM state and threads, and never a re-run of the
  parent's ``__main__`` as multiprocessing's spawn would do), by the first
  compile that needs it, and reused.  It talks to its parent over inherited
  pipes only, never a socket another local user could reach.
- It exits with its parent: it watches a *lifeline* pipe whose other end only
  the parent holds, so it also exits when the parent dies mid-compile, and the
  parent kills it at exit.  If it dies, the compile runs on the thread, and a
  new server is started at most once per ``RESTART_INTERVAL`` seconds.
- The server is started in isolated mode (``-I``) and takes the parent's
  ``sys.path`` from its arguments before it imports anything: nothing in the
  working directory is imported there.  Each request carries the parent's
  ``sys.path`` as it is then.
- The function travels by value (Numba's cloudpickle), with the globals it
  uses as they are when the compile is asked for, and so do the functions and
  jitted callees of its own module: the code compiled is the code that was
  imported, even if the file changed since.  Its module is never imported in
  the server (a class of it cannot travel: such a function compiles on the
  thread).  Other modules are imported by the server from ``sys.path``, and
  what the compile reads of them (``module_state``) is set to the parent's
  values first.
- The server pays Numba's one-off costs before it says it is ready, and the
  parent starts timing a compile only then.
- What cannot travel (an argument type or global that does not pickle, a
  result Numba's cache would refuse: lifted loops, dynamic globals) compiles on
  the thread.
"""

from __future__ import annotations

import atexit
import collections
import dis
import importlib
import os
import pickle
import struct
import subprocess
import sys
import threading
import time
import types as pytypes
import warnings
from typing import Any, NamedTuple

from . import compiled_code, forksafe

MODE_VARIABLE = "SMART_JIT_COMPILE"  # "process", "thread", or unset: process if 2+ CPUs
RESTART_INTERVAL = 60.0  # seconds between starts of a server after one died

_HEADER = struct.Struct("<Q")

# How background compiles went in this process, by outcome: "compiled",
# "failed", "cannot travel", "does not pickle", "no server", "server died".
outcomes: collections.Counter[str] = collections.Counter()


def uses_process() -> bool:
    """Whether background compiles go to the compile server.

    ``SMART_JIT_COMPILE=process`` or ``thread`` decides; unset, the server is
    used when this process may run on at least 2 CPUs.  Read on each
    background compile (a few hundred nanoseconds), so tests and services can
    switch it at run time.
    """
    mode = os.environ.get(MODE_VARIABLE, "").strip().lower()
    if mode in ("thread", "process"):
        return mode == "process" and _can_spawn()
    if mode:
        warnings.warn(
            f"{MODE_VARIABLE}={mode!r} is not 'process' or 'thread'; using the default",
            RuntimeWarning,
            stacklevel=2,
        )
    return _usable_cpus() >= 2 and _can_spawn()


def _usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS: no affinity masks
        return os.cpu_count() or 1


def _can_spawn() -> bool:
    # Pipes are inherited by file descriptor (pass_fds); an embedded
    # interpreter may have no executable to start.
    return os.name == "posix" and bool(sys.executable)


# -- the parent's side ---------------------------------------------------------


class Request(NamedTuple):
    """What the compile server needs to compile one function for one signature."""

    py_func: Any
    locals: dict[str, Any]
    targetoptions: dict[str, Any]
    pipeline_class: type
    argtypes: tuple[Any, ...]
    return_type: Any = None  # a declared signature's; None: Numba infers it


def compile(request: Request, targetctx: Any, announce_as: Any) -> Any:
    """Compile *request* in the compile server, for *targetctx*.

    Returns Numba's ``CompileResult``, rebuilt in this process and not yet
    installed, or None when this compile must run on the thread instead: the
    server is unavailable, the function or its result cannot travel, or Numba
    failed to compile it there.  A failure is confirmed here because the
    function may use what only this process has: an ``@overload`` registered
    by its own module (which travelled by value, not imported), Numba settings
    changed at run time.  Warnings Numba issued while compiling a result that
    is used are issued again here.  Numba's ``numba:compile`` event names
    *announce_as* as its dispatcher.
    """
    py_func, argtypes = request.py_func, request.argtypes
    home = py_func.__module__
    try:
        request_bytes = pickle.dumps(
            (
                home,
                _import_path(),
                _dumps_by_value(
                    (*request, module_state(py_func, home)),
                    home=home,
                ),
            ),
            pickle.HIGHEST_PROTOCOL,
        )
    except Exception:  # a global, a default or a type that does not pickle
        outcomes["does not pickle"] += 1
        return None
    server = _server()
    if server is None or not server.wait_ready():
        outcomes["no server"] += 1
        return None if not _shutting_down else _exiting()
    from numba.core import event

    # Listeners of Numba's compile event see this compile as if it ran here,
    # from the request to the rebuilt result.  One that failed there ends
    # with the exception, and the thread's compile that follows fires its own.
    # The event starts once the server is ready: its start-up (importing
    # Numba) is not part of this compile's cost.
    details = {
        "dispatcher": announce_as,
        "args": argtypes,
        "return_type": request.return_type,
        "compile_process": True,
    }
    try:
        with event.trigger_event("numba:compile", data=details):
            reply = server.ask(request_bytes, prepare=lambda: _prepare(targetctx))
            if reply is None:
                outcomes["server died"] += 1
                return None if not _shutting_down else _exiting()
            kind, payload, caught = reply
            if kind == "compiled":
                try:
                    cres = compiled_code.from_bytes(targetctx, payload)
                except Exception:  # e.g. it names a module this process cannot import
                    kind = "cannot travel"
            outcomes[kind] += 1
            if kind != "compiled":
                raise _NotHere(f"{kind}: {payload}")
    except _NotHere:
        return None
    for category, message, filename, lineno in caught:
        warnings.warn_explicit(message, category, filename, lineno)
    return cres


class _NotHere(Exception):
    """The compile process did not produce a result this process can use."""


def _exiting() -> None:
    """The process is exiting (the server was stopped at exit): do not start
    a compile on the thread now."""
    raise RuntimeError("the process is exiting")


def _prepare(targetctx: Any) -> None:
    """Initialise the target context while the server compiles: a rebuild
    without it dies with ``Symbol not found: NRT_Free``.  Numba's cache does
    the same before every load."""
    from numba.core.compiler_lock import global_compiler_lock

    with global_compiler_lock:
        targetctx.refresh()


def _dumps_by_value(obj: Any, home: str) -> bytes:
    """Numba's pickling, with every plain function of module *home* by value.

    Anything else of *home* (a class, an instance of one) would be looked up
    by name in the server, where the home module is a stand-in made of the
    globals that travelled (see ``_stand_in_for_home``): a class of it cannot
    travel, and such a function compiles on the thread."""
    import io

    from numba.core import serialize

    class ByValue(serialize.NumbaPickler):  # type: ignore[misc]
        def reducer_override(self, obj: Any) -> Any:
            if type(obj) is pytypes.FunctionType and obj.__module__ == home:
                return self._dynamic_function_reduce(obj)
            if isinstance(obj, type) and obj.__module__ == home and home != "__main__":
                raise pickle.PicklingError(f"{obj.__qualname__} is a class of {home}")
            return super().reducer_override(obj)

    with io.BytesIO() as buffer:
        ByValue(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(obj)
        return buffer.getvalue()


_ATTRIBUTE_OPS = frozenset({"LOAD_ATTR", "LOAD_METHOD"})
_NAME_OPS = frozenset({"LOAD_GLOBAL", "LOAD_DEREF", "LOAD_NAME"})


def module_state(func: Any, home: str) -> list[tuple[str, tuple[str, ...], Any]]:
    """What the compile reads from modules the server imports itself, as it
    is in this process: ``(module, attribute path, value)`` for each
    ``module.attr`` (``module.a.b``) in the code of *func*, of the functions
    of *home* that travel with it and of its jitted callees, and for each
    global a jitted callee of another module reads.  The server sets them
    before compiling, so that a module changed at run time
    (``settings.SCALE = 3.0``) compiles as it would here.

    Modules, classes and callables are left out: they are code, imported by
    name, not state."""
    found: dict[tuple[str, tuple[str, ...]], Any] = {}
    visited: set[int] = set()
    pending = [func]
    while pending:
        each = pending.pop()
        code = getattr(each, "__code__", None)
        if code is None or id(code) in visited:
            continue
        visited.add(id(code))
        globals_ = getattr(each, "__globals__", {})
        cells = dict(zip(code.co_freevars, each.__closure__ or (), strict=False))
        travels = getattr(each, "__module__", None) == home  # its globals go by value
        for nested in _code_objects(code):
            _read(nested, globals_, cells, travels, each, found, pending)
    return [(module, path, value) for (module, path), value in found.items()]


def _code_objects(code: Any) -> list[Any]:
    """*code* and the code of its comprehensions and inner functions."""
    every = [code]
    for const in code.co_consts:
        if isinstance(const, pytypes.CodeType):
            every.extend(_code_objects(const))
    return every


_MISSING = object()


def _read(
    code: Any,
    globals_: dict[str, Any],
    cells: dict[str, Any],
    travels: bool,
    func: Any,
    found: dict[tuple[str, tuple[str, ...]], Any],
    pending: list[Any],
) -> None:
    current: Any = _MISSING
    module_name = ""
    path: tuple[str, ...] = ()
    for ins in dis.get_instructions(code):
        if ins.opname in _ATTRIBUTE_OPS and isinstance(current, pytypes.ModuleType):
            module_name, path = current.__name__, ()
        if ins.opname in _ATTRIBUTE_OPS and current is not _MISSING and module_name:
            path = (*path, str(ins.argval))
            current = getattr(current, str(ins.argval), _MISSING)
            if current is not _MISSING and _is_state(current):
                found[(module_name, path)] = current
            callee = getattr(current, "py_func", None)  # a jitted callee: helper_mod.f
            if callee is not None:
                pending.append(callee)
            continue
        current, module_name, path = _MISSING, "", ()
        if ins.opname not in _NAME_OPS:
            continue
        name = str(ins.argval)
        if name in cells:
            try:
                current = cells[name].cell_contents
            except ValueError:  # an empty cell
                continue
        else:
            current = globals_.get(name, _MISSING)
            if current is not _MISSING and not travels and _is_state(current):
                found[(func.__module__, (name,))] = current
        callee = getattr(current, "py_func", None)  # a jitted callee
        if callee is not None:
            pending.append(callee)
        elif type(current) is pytypes.FunctionType and current.__module__ == func.__module__:
            pending.append(current)


def _is_state(value: Any) -> bool:
    return not (isinstance(value, pytypes.ModuleType | type) or callable(value))


def _import_path() -> list[str]:
    """This process's ``sys.path``, with the working directory named."""
    return [os.getcwd() if p == "" else p for p in sys.path if isinstance(p, str)]


class _Server:
    """One compile server process and the parent's ends of its pipes."""

    def __init__(self) -> None:
        to_server, self._requests = os.pipe()
        self._replies, from_server = os.pipe()
        lifeline, self._lifeline = os.pipe()
        env = dict(os.environ, **{MODE_VARIABLE: "thread"})
        env.pop("SMART_JIT_LOG", None)  # this process logs the server's compiles
        # Isolated mode (-I): neither the working directory nor PYTHON*
        # variables decide what the server imports before it has the
        # parent's sys.path, which it takes from its arguments alone.
        path = _import_path()
        try:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-I",
                    "-c",
                    _BOOTSTRAP,
                    str(to_server),
                    str(from_server),
                    str(lifeline),
                    *path,
                ],
                pass_fds=(to_server, from_server, lifeline),
                stdin=subprocess.DEVNULL,
                env=env,
            )
        except BaseException:
            for fd in (self._requests, self._replies, self._lifeline):
                os.close(fd)
            raise
        finally:
            for fd in (to_server, from_server, lifeline):
                os.close(fd)
        self.ready_at: float | None = None  # time.perf_counter() when it said so

    def wait_ready(self) -> bool:
        """Wait until the server has imported Numba and compiled once (its
        start-up); False if it died first (it is then retired)."""
        if self.ready_at is not None:
            return True
        try:
            if _receive(self._replies) != _READY:
                raise EOFError("the server did not start")
        except (OSError, EOFError):
            _retire(self)
            return False
        self.ready_at = time.perf_counter()
        return True

    def ask(self, request: bytes, prepare: Any = None) -> Any:
        """Send *request*, run *prepare()* meanwhile, return the reply; None if
        the server died (it is then retired)."""
        try:
            _send(self._requests, request)
            if prepare is not None:
                try:
                    prepare()
                except Exception:  # the rebuild will meet (and report) it again
                    pass
            return pickle.loads(_receive(self._replies))
        except (OSError, EOFError, pickle.UnpicklingError):
            _retire(self)
            return None

    def close_fds(self) -> None:
        """Close the parent's ends, once: a number closed twice may by then
        belong to another file."""
        with _lock:
            fds, self._requests, self._replies, self._lifeline = (
                (self._requests, self._replies, self._lifeline),
                -1,
                -1,
                -1,
            )
        for fd in fds:
            if fd >= 0:
                os.close(fd)

    def stop(self) -> None:
        self.close_fds()
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


_lock = forksafe.lock()
_current: _Server | None = None
_last_start = -RESTART_INTERVAL  # time.monotonic() of the last start
_started = 0  # servers started by this process (tests read it)
_shutting_down = False
_exit_hook_installed = False


def _server() -> _Server | None:
    """The running server; a new one if none runs and one may be started."""
    global _current, _last_start, _started, _exit_hook_installed
    with _lock:
        if _shutting_down:
            return None
        if _current is not None:
            return _current
        now = time.monotonic()
        if now - _last_start < RESTART_INTERVAL and _started:
            return None  # the last one died recently: the thread compiles
        _last_start = now
        try:
            _current = _Server()
        except OSError:
            return None
        _started += 1
        if not _exit_hook_installed:
            atexit.register(_stop_at_exit)
            _exit_hook_installed = True
        return _current


def _retire(server: _Server) -> None:
    global _current
    with _lock:
        if _current is server:
            _current = None
    server.stop()


def server_pid() -> int | None:
    """The process id of the running compile server, if any."""
    server = _current
    return None if server is None else server.process.pid


def _stop_at_exit() -> None:
    global _shutting_down, _current
    with _lock:
        _shutting_down = True
        server, _current = _current, None
    if server is not None:
        server.stop()


def _forget_in_child() -> None:
    """A forked child must not talk to its parent's server (a reply would go
    to whichever process reads first), nor keep its lifeline open."""
    global _current, _last_start, _started
    if _current is not None:
        _current.close_fds()
        _orphans.append(_current)  # not ours to wait for; keep Popen quiet
    _current = None
    _last_start = -RESTART_INTERVAL
    _started = 0
    outcomes.clear()  # "in this process"


_orphans: list[_Server] = []
forksafe.in_child(_forget_in_child)


# -- framing: a length, then a pickle ----------------------------------------


def _send(fd: int, data: bytes) -> None:
    view = memoryview(_HEADER.pack(len(data)) + data)
    while view:
        view = view[os.write(fd, view) :]


def _receive(fd: int) -> bytes:
    (size,) = _HEADER.unpack(_read_exactly(fd, _HEADER.size))
    return _read_exactly(fd, size)


def _read_exactly(fd: int, size: int) -> bytes:
    chunks, left = [], size
    while left:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            raise EOFError("the other process closed its end")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


# -- the server's side ---------------------------------------------------------

# Run with ``python -I -c``: the parent's sys.path (the arguments after the
# three pipes) before anything is imported, so that the server imports
# smart_jit, Numba and the user's modules from where the parent did.
_BOOTSTRAP = (
    "import sys; sys.path[:] = sys.argv[4:]; "
    "from smart_jit.compile_process import _serve; _serve(*map(int, sys.argv[1:4]))"
)
_READY = b"ready"


def _serve(requests: int, replies: int, lifeline: int) -> None:
    """Compile what the parent sends until it closes the pipe or dies."""
    threading.Thread(target=_exit_with_parent, args=(lifeline,), daemon=True).start()
    _warm_up()
    _send(replies, _READY)
    while True:
        try:
            request = _receive(requests)
        except EOFError:
            os._exit(0)
        _send(replies, pickle.dumps(_compile_request(request), pickle.HIGHEST_PROTOCOL))


def _warm_up() -> None:
    """Pay Numba's one-off costs (its imports, the target's initialisation,
    the lazy imports of a first compile) before the first request, so that
    the parent times compiles, not the server's start."""
    from numba.core.registry import CPUDispatcher

    def identity(x: Any) -> Any:
        return x

    try:
        CPUDispatcher(identity, targetoptions={"nopython": True}).compile("int64(int64)")
    except Exception:  # a broken Numba reports itself on the first request
        pass


def _exit_with_parent(lifeline: int) -> None:
    os.read(lifeline, 1)  # returns b"" when the parent's end closes: it exited or died
    os._exit(0)  # a compile in progress included


def _compile_request(request: bytes) -> tuple[str, Any, list[Any]]:
    """``("compiled", payload, warnings Numba issued)``, ``("failed", why,
    [])`` or ``("cannot travel", why, [])``."""
    from numba.core.registry import CPUDispatcher

    try:
        home, path, payload = pickle.loads(request)
        if sys.path != path:  # the parent's, as it is now
            sys.path[:] = path
            importlib.invalidate_caches()
        _stand_in_for_home(home)  # before anything could import it from disk
        py_func, locals, targetoptions, pipeline_class, argtypes, returns, state = pickle.loads(
            payload
        )
        _fill_stand_in(py_func)
        _set_module_state(state)
    except Exception as exc:
        return ("cannot travel", f"unpickling failed: {exc!r}", [])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            dispatcher = CPUDispatcher(py_func, locals, targetoptions, pipeline_class)
            dispatcher.compile(argtypes if returns is None else returns(*argtypes))
            cres = dispatcher.overloads[tuple(argtypes)]
        except Exception as exc:
            return ("failed", f"{type(exc).__name__}: {exc}", [])
    payload = compiled_code.to_bytes(cres)
    if payload is None:
        why = compiled_code.why_not_portable(cres) or "it does not pickle"
        return ("cannot travel", why, [])
    return ("compiled", payload, _portable(caught))


def _stand_in_for_home(name: str) -> None:
    """Give the function's module *name* a stand-in, unless something
    imported the real one (``__main__`` is the server's own).

    Numba looks the module up by name (its ``Environment`` of globals), and
    the pickle would import it by name for anything of it that is not a plain
    function: that would run its top level in the server, as it is on disk
    now, or fail and name the function's module ``<dynamic>``, which the
    parent then cannot import.  The stand-in holds only what travelled, so
    a pickle that needs more of the module fails and the thread compiles.
    """
    module = sys.modules.get(name) if name else None
    if name and module is None:
        module = sys.modules[name] = pytypes.ModuleType(name)
        module.__smart_jit_stand_in__ = True  # type: ignore[attr-defined]


def _fill_stand_in(py_func: Any) -> None:
    """Put the globals that came with *py_func* in its module's stand-in."""
    module = sys.modules.get(py_func.__module__ or "")
    if getattr(module, "__smart_jit_stand_in__", False):
        module.__dict__.update(py_func.__globals__)


def _set_module_state(state: list[tuple[str, tuple[str, ...], Any]]) -> None:
    """Give the modules the server imported the values the parent's have
    (``module_state``); raises if one cannot be set."""
    for module_name, path, value in state:
        owner: Any = sys.modules.get(module_name) or importlib.import_module(module_name)
        for name in path[:-1]:
            owner = getattr(owner, name)
        if not _same(getattr(owner, path[-1], _MISSING), value):
            setattr(owner, path[-1], value)


def _same(a: Any, b: Any) -> bool:
    if a is b:
        return True
    if type(a) is not type(b):
        return False
    try:
        return bool(a == b)
    except Exception:  # an array compares element-wise: set it, then
        return False


def _portable(caught: list[warnings.WarningMessage]) -> list[Any]:
    """The warnings as (category, message, filename, lineno), those that pickle."""
    portable = []
    for each in caught:
        item = (each.category, str(each.message), each.filename, each.lineno)
        try:
            pickle.dumps(item)
        except Exception:
            continue
        portable.append(item)
    return portable
