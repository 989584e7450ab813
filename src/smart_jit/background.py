"""One daemon thread per process that runs queued compiles.

Started by the first queued compile, never by import or decoration.  Compiles
take Numba's global compiler lock as usual, so a foreground compile waits for a
background one exactly as it would wait for another thread in plain Numba.

A forked child (see ``forksafe``) starts with an empty queue and no worker,
and forgets the compiles its parent had queued: they will never run there.

``compile_one`` is the job of one background compile of one signature: in
the compile process where one may be used and the function can travel
(``compile_process``), else on the worker thread.  It is handed what it needs
as a ``CompileHost``; a pending compile is a ``concurrent.futures.Future``.
"""

from __future__ import annotations

import _thread
import queue
import threading
import time
import warnings
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NamedTuple

from numba.core import sigutils
from numba.core.errors import ForceLiteralArg

from . import forksafe, log, permission, stances
from .errors import CompileForbidden, NumbaInterpreterModeWarning
from .interpreted import REASON_BACKGROUND, Interpreter, describe_failure, describe_types
from .records import UNRESOLVED, Records, SignatureRecord, claim_pending

if TYPE_CHECKING:
    from concurrent.futures import Future

_Job = tuple[Callable[..., None], tuple[Any, ...], "Future[None]"]
_jobs: queue.SimpleQueue[_Job] = queue.SimpleQueue()
_worker_started = False
WORKER_NAME = log.BACKGROUND_THREAD
_start_lock = forksafe.lock()
_queued_for: weakref.WeakValueDictionary[int, Records] = weakref.WeakValueDictionary()


def submit(records: Records, future: Future[None], job: Callable[..., None], *args: Any) -> None:
    """Queue ``job(*args)`` for a compile pending in *records*; *future* is
    done once it has run.  A forked child forgets the compiles pending in
    every such *records*: they never run there."""
    global _worker_started
    _queued_for[id(records)] = records
    _jobs.put((job, args, future))
    if not _worker_started:
        with _start_lock:
            if not _worker_started:
                # threading.Thread.start() waits for the new thread to run,
                # in GIL hand-offs charged to the call that queued the
                # compile; the low-level start returns at once.
                _thread.start_new_thread(_work, ())
                _worker_started = True


def _work() -> None:
    threading.current_thread().name = WORKER_NAME  # a daemon "dummy" thread
    while True:
        job, args, future = _jobs.get()
        time.sleep(0)  # let the thread that queued the job finish its call first
        try:
            job(*args)
        except BaseException:  # the job reports its own failures
            pass
        finally:
            future.set_result(None)


class CompileHost(NamedTuple):
    """What a background compile needs of its dispatcher (*owner*, read for
    its public attributes only) besides them."""

    owner: Any
    pipeline_class: type
    # (argument types) -> an overload installed from the disk cache, or None
    load_from_disk: Callable[[tuple[Any, ...]], Any]
    # (compile result) -> installed as a disk-cache hit is, and saved to disk
    install: Callable[[Any], Any]


def run_then_queue(
    owner: Any,
    interpreter: Interpreter,
    records: Records,
    record: SignatureRecord,
    call_args: tuple[Any, ...],
    host: Callable[[], CompileHost],
) -> Callable[..., Any]:
    """``Action.BACKGROUND_JIT``: run this call in the interpreter now, then
    queue the compile of its types unless one is pending already.  Under
    ``warn_on_fallback`` it warns first: a refused call queues nothing."""
    if owner.warn_on_fallback:
        interpreter.warn(record, call_args)
    future = claim_pending(record)
    try:  # run first, queue after: the compile must not slow this call down
        return interpreter.run_now(owner, record, call_args, REASON_BACKGROUND)
    finally:
        if future is not None:
            submit(records, future, compile_one, host(), record, record.folded_types)


def queue_declared(
    records: Records, record: SignatureRecord, host: Callable[[], CompileHost], sig: Any
) -> None:
    """Queue the compile of the declared signature *sig* (lazy signatures)
    for the calls of *record*, unless one is pending already: they are
    served by the interpreter meanwhile, as ``Action.BACKGROUND_JIT`` serves
    a miss."""
    future = claim_pending(record)
    if future is not None:
        args, return_type = sigutils.normalize_signature(sig)
        submit(records, future, compile_one, host(), record, tuple(args), return_type)


def compile_one(
    host: CompileHost, record: SignatureRecord, argtypes: tuple[Any, ...], return_type: Any = None
) -> None:
    """The job of one background compile, for *argtypes* (and the return
    type a declared signature gives): in the compile process where one
    may be used, else on this thread.  A failure is remembered in *record*
    (and warned of under ``warn_on_fallback``); the record is no longer
    pending once it returns.  A compile that ``fail_on_compile`` refuses when
    its turn comes is neither run nor a failure: the next call of these types
    asks for it again."""
    from . import compile_process  # not at import: only background compiles need it

    try:
        in_process = compile_process.uses_process()
        if not (in_process and _compile_in_process(host, argtypes, return_type)):
            with compiling_on_thread(), permission.on_request(id(host.owner)):
                host.owner.compile(argtypes if return_type is None else return_type(*argtypes))
    except CompileForbidden:
        pass
    except ForceLiteralArg:
        # It asks for literal arguments (numba.literally): only a call's
        # values can be compiled for, as Numba's own miss path does.
        record.needs_values = True
    except Exception as exc:
        record.failure = describe_failure(exc)
        # Resolved again at the next call: a declared signature that failed
        # here compiles on the calling thread then, which raises its error.
        record.disk_stamp = UNRESOLVED
        if return_type is None:  # a declared signature's calls are not interpreted
            log.interpreted_after_failure(host.owner, argtypes, record.failure)
        if host.owner.warn_on_fallback:
            warnings.warn(
                f"{host.owner.py_func.__name__}{describe_types(argtypes)} not using JIT: "
                f"background {record.failure}",
                NumbaInterpreterModeWarning,
                stacklevel=1,
            )
    finally:
        record.pending = None


def _compile_in_process(host: CompileHost, argtypes: tuple[Any, ...], return_type: Any) -> bool:
    """Compile in the compile process and install the result; False if the
    thread must compile instead."""
    from . import compile_process

    owner = host.owner
    if argtypes in owner.overloads or host.load_from_disk(argtypes) is not None:
        return True  # another thread or process compiled it meanwhile
    if stances.forbids_compiles():  # as the dispatcher's compile refuses on the thread
        raise CompileForbidden.of(owner.py_func.__qualname__, describe_types(argtypes))
    request = compile_process.Request(
        owner.py_func, owner.locals, owner.targetoptions, host.pipeline_class, argtypes, return_type
    )
    cres = compile_process.compile(request, owner.targetctx, announce_as=owner)
    if cres is not None:
        host.install(cres)
    return cres is not None


# While a compile runs on the worker thread, interpreted calls of the
# function being compiled let it have the GIL at most this often.  Numba's
# compile releases the GIL thousands of times (I/O of its lazy imports, LLVM
# calls) and must win it back each time: a serving thread that never yields
# hands it over only every switch interval (5 ms by default), which starves
# the compile; yielding on every call slows quick calls instead.  The value
# is chosen by benchmarks/background.py (docs/guide/background.md).
YIELD_INTERVAL = 0.0005
_thread_compiles = 0  # compiles running on the worker thread (0 or 1)
_next_yield = 0.0


@contextmanager
def compiling_on_thread() -> Iterator[None]:
    """Mark a compile that runs on the worker thread itself (not in the
    compile process), so that waiting calls yield to it."""
    global _thread_compiles
    _thread_compiles += 1  # only the worker thread writes it
    try:
        yield
    finally:
        _thread_compiles -= 1


def let_compile_run() -> None:
    """Called by each call served while its compile is pending: yield the GIL
    if a compile runs on the thread and ``YIELD_INTERVAL`` has passed."""
    global _next_yield
    if _thread_compiles:
        now = time.monotonic()
        if now >= _next_yield:
            _next_yield = now + YIELD_INTERVAL
            time.sleep(0)


def wait(pending: list[Future[None]], timeout: float | None) -> bool:
    """Wait until every compile in *pending* is done, or *timeout* seconds pass."""
    if not pending:
        return True
    from concurrent.futures import wait as wait_for

    return not wait_for(pending, timeout).not_done


def _forget_in_child() -> None:
    global _jobs, _worker_started, _thread_compiles
    _jobs = queue.SimpleQueue()
    _worker_started = False
    _thread_compiles = 0
    for records in list(_queued_for.values()):
        records.forget_pending()


forksafe.in_child(_forget_in_child)
