"""Running a call in the interpreter, and accounting for it.

The C dispatcher calls whatever the miss path returns with the call's folded
arguments, so an interpreted call is returned, not run: the Python function
itself when the folded arguments are what it takes, else a callable that runs
it with them unfolded (``Interpreter.run``).  The call then runs after the
miss path returned, and an interpreted recursion holds no frame of ours per
level.  Only a call that must run before something else happens (a
background compile is queued after it) runs here and hands back its result
(``Interpreter.run_now``).

Each interpreted call is counted per signature and reason; ``fallbacks``
reads the counts.  Under ``warn_on_fallback`` each call warns, from the
user's line; a filter that turns the warning into an error refuses the call
before anything is counted, queued or run.
"""

from __future__ import annotations

import inspect
import itertools
import re
from collections.abc import Callable, Generator
from time import perf_counter
from typing import TYPE_CHECKING, Any, NamedTuple

from numba.core import types
from numba.core.dispatcher import OmittedArg

from . import events, log
from .action import Action
from .argtypes import typeof_arg
from .errors import NumbaInterpreterModeWarning, warn_caller

if TYPE_CHECKING:
    from .protocols import Account, LearningPolicy
    from .records import Records, SignatureRecord

REASON_POLICY = "use_jit returned Action.INTERPRETER"
REASON_BACKGROUND = "compiling in the background"
REASON_DISABLED = "NUMBA_DISABLE_JIT is set"
COMPILE_FAILED = "compile failed: "  # how every failure reason starts
NO_POLICY_JIT = "no use_jit: compile, as numba.jit does"
NO_POLICY_RAISE = "no use_jit, and its signatures are fixed: Numba's error"

_listeners = events.listeners
_INTERPRETER_EXECUTION = events.INTERPRETER_EXECUTION


class Fallback(NamedTuple):
    """Calls with one argument-type signature that ran in the interpreter."""

    #: The Numba types of the values the policy received.
    signature: tuple[types.Type, ...]
    #: Why: ``use_jit returned Action.INTERPRETER``, ``compile failed: ...``,
    #: ``compiling in the background``, ``the stance is interpret``, ...
    reason: str
    #: How many calls.
    calls: int


class Interpreter:
    """Runs one function's calls in the interpreter and accounts for them.

    *owner* (the dispatcher) is what execution events name, and its
    ``warn_on_fallback`` says whether calls warn."""

    __slots__ = ("py_func", "has_stararg", "plain_args", "generates")

    def __init__(self, py_func: Callable[..., Any], pysig: inspect.Signature) -> None:
        params = list(pysig.parameters.values())
        self.py_func = py_func
        self.has_stararg = bool(params) and params[-1].kind == params[-1].VAR_POSITIONAL
        # The folded arguments are what the function takes: no default, no *args.
        self.plain_args = not py_func.__defaults__ and not self.has_stararg
        self.generates = inspect.isgeneratorfunction(py_func)

    def call_values(self, args: tuple[Any, ...]) -> tuple[Any, ...]:
        """The folded arguments as the Python function takes them, positionally."""
        if self.plain_args:
            return args
        values = [a.value if isinstance(a, OmittedArg) else a for a in args]
        if self.has_stararg:
            values[-1:] = values[-1]
        return tuple(values)

    def run(
        self,
        owner: Any,
        record: SignatureRecord,
        call_args: tuple[Any, ...],
        reason: str,
        account: Account | None = None,
    ) -> Callable[..., Any]:
        """Warn and count this call; return what the C caller then calls to
        run it (timed into *account*, if given)."""
        if owner.warn_on_fallback:
            self.warn(record, call_args, reason)
        counter = record.counts.get(reason)
        if counter is None:
            counter = self.first_of(owner, record, call_args, reason, "INTERPRETER")
        next(counter)
        if account is not None:
            return _timed(owner, self, account, call_args)
        if _listeners.get(_INTERPRETER_EXECUTION):
            return _with_event({"dispatcher": owner, "args": call_args}, self.py_func, call_args)
        if self.plain_args:
            return self.py_func
        return _calling(self.py_func, call_args)

    def run_now(
        self, owner: Any, record: SignatureRecord, call_args: tuple[Any, ...], reason: str
    ) -> Callable[..., Any]:
        """Count this call and run it now (it was warned of already): the
        first call of a ``BACKGROUND_JIT`` signature, which queues its compile."""
        counter = record.counts.get(reason)
        if counter is None:
            counter = self.first_of(owner, record, call_args, reason, "BACKGROUND_JIT")
        next(counter)
        if _listeners.get(_INTERPRETER_EXECUTION):
            data = {"dispatcher": owner, "args": call_args}
            run = events.run_with_event
            return events.already_ran(run(_INTERPRETER_EXECUTION, data, self.py_func, call_args))
        return events.already_ran(self.py_func(*call_args))

    def first_of(
        self,
        owner: Any,
        record: SignatureRecord,
        call_args: tuple[Any, ...],
        reason: str,
        action: str,
    ) -> itertools.count[int]:
        """The counter of *record*'s calls interpreted for *reason*, made by
        the first of them, which is logged as a decision (once, if threads
        race to make it)."""
        reported = self.reported_types(record, call_args)
        made = itertools.count()
        counter = record.counts.setdefault(reason, made)
        if counter is made:
            log.decided(owner, reported, action, reason)
        return counter

    def open_account(
        self,
        policy: LearningPolicy,
        owner: Any,
        record: SignatureRecord,
        call_args: tuple[Any, ...],
    ) -> Account:
        """The learning *policy*'s account of these calls' types, given the
        types already computed (as reported, and as Numba compiles them)."""
        reported = self.reported_types(record, call_args)
        record.account = account = policy.account_for(owner, reported, record.folded_types)
        return account

    def warn(self, record: SignatureRecord, call_args: tuple[Any, ...], reason: str = "") -> None:
        """Warn that this call is not compiled, saying why when a compile failed."""
        why = f": {reason}" if reason.startswith(COMPILE_FAILED) else ""
        warn_caller(
            f"{self.py_func.__name__}{describe_types(self.reported_types(record, call_args))}"
            f" not using JIT{why}",
            NumbaInterpreterModeWarning,
        )

    def reported_types(
        self, record: SignatureRecord, call_args: tuple[Any, ...]
    ) -> tuple[types.Type, ...]:
        """The call's types as the policy sees its arguments: defaults filled
        in, ``*args`` expanded."""
        if record.reported_types is None:
            unfolded = not self.plain_args
            reported = tuple(map(typeof_arg, call_args)) if unfolded else record.folded_types
            record.reported_types = reported
        return record.reported_types  # type: ignore[no-any-return]


def fallbacks(records: Records) -> list[Fallback]:
    """Per argument-type signature and reason, the calls that were interpreted.

    Calls that fold differently (``f(1)`` and ``f(1, 10)`` for a default
    ``b=10``) but have the same types are one signature."""
    calls: dict[tuple[Any, str], int] = {}
    for record in records.all():
        for reason, counter in list(record.counts.items()):
            key = (record.reported_types, reason)
            calls[key] = calls.get(key, 0) + count_of(counter)
    return [Fallback(signature, reason, n) for (signature, reason), n in calls.items()]


def accounts(records: Records) -> list[Account]:
    """The learning policy's accounts of *records*' signatures, once each."""
    found: dict[int, Account] = {}
    for record in records.all():
        if record.account is not None:
            found.setdefault(id(record.account), record.account)
    return list(found.values())


def decided_by(reason: str | None, action: Action) -> str:
    """Why a call got *action*, said as the policy's *reason* for
    interpreting is (None: there is no policy)."""
    if reason is None:
        return NO_POLICY_JIT if action is Action.JIT else NO_POLICY_RAISE
    return reason.replace("Action.INTERPRETER", f"Action.{action.name}")


def seconds(records: Records) -> float | None:
    """The interpreted seconds learning policies timed, None if none did."""
    timed = [getattr(r.account, "interpreted", None) for r in records.all()]
    found = [t for t in timed if isinstance(t, float)]
    return sum(found) if found else None


def count_of(counter: itertools.count[int]) -> int:
    """How many times ``next()`` was called on *counter*.  ``next`` on an
    ``itertools.count`` is one atomic step under the GIL, where ``+= 1`` on
    an attribute is not; its ``repr`` is the only way to read it."""
    return int(repr(counter)[len("count(") : -1])


# Callables for the C dispatcher, made here rather than inside the methods
# that return them: a closure's variables would be cells on every call.


def _calling(py_func: Callable[..., Any], call_args: tuple[Any, ...]) -> Callable[..., Any]:
    """Runs the Python function with the call's unfolded arguments."""
    return lambda *_: py_func(*call_args)


def _with_event(
    data: Any, py_func: Callable[..., Any], call_args: tuple[Any, ...]
) -> Callable[..., Any]:
    """Runs it between the start and end of an ``interpreter_execution``."""
    return lambda *_: events.run_with_event(_INTERPRETER_EXECUTION, data, py_func, call_args)


def _timed(
    owner: Any, interpreter: Interpreter, account: Account, call_args: tuple[Any, ...]
) -> Callable[..., Any]:
    """Runs it and tells *account* how long it took (also when it raised:
    the time was spent); a generator is timed while it runs, from its first
    step to its last."""
    run = interpreter.py_func
    if _listeners.get(_INTERPRETER_EXECUTION):
        run = _with_event({"dispatcher": owner, "args": call_args}, run, call_args)
    generates = interpreter.generates

    def timed(*_: Any) -> Any:
        start = perf_counter()
        try:
            result = run(*call_args)
        except BaseException:
            account.interpreted_call(call_args, perf_counter() - start)
            raise
        if generates:
            return TimedGenerator(result, account, call_args, perf_counter() - start)
        account.interpreted_call(call_args, perf_counter() - start)
        return result

    return timed


class TimedGenerator(Generator[Any, Any, Any]):
    """An interpreted generator whose steps are timed into an account, as
    one call, told once it is done (exhausted, raised, closed or dropped)."""

    __slots__ = ("_generator", "_account", "_call_args", "_spent")

    def __init__(
        self, generator: Any, account: Account, call_args: tuple[Any, ...], spent: float
    ) -> None:
        self._generator = generator
        self._account = account
        self._call_args: tuple[Any, ...] | None = call_args
        self._spent = spent

    def send(self, value: Any) -> Any:
        return self._step(self._generator.send, value)

    def throw(self, *exc_info: Any) -> Any:
        return self._step(self._generator.throw, *exc_info)

    def close(self) -> None:
        self._step(self._generator.close)
        self._done()

    def _step(self, step: Callable[..., Any], *args: Any) -> Any:
        start = perf_counter()
        try:
            return step(*args)
        except BaseException:  # StopIteration included: it is done
            self._spent += perf_counter() - start
            self._done()
            raise
        finally:
            if self._call_args is not None:
                self._spent += perf_counter() - start

    def _done(self) -> None:
        call_args, self._call_args = self._call_args, None
        if call_args is not None:
            self._account.interpreted_call(call_args, self._spent)

    def __del__(self) -> None:
        self._done()


_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")
_FAILURE_WIDTH = 200


def describe_failure(exc: BaseException) -> str:
    """``compile failed: <error class>: <what failed>``, on one readable line.

    Numba's message starts with the pipeline stage that failed ("Failed in
    nopython mode pipeline (step: ...)"), the same for every typing error; the
    line after it says what failed.  A line ending in a colon is joined with
    the next one (``found for signature: >>> add(int64, unicode_type)``).
    """
    lines = [line.strip() for line in _ANSI_ESCAPE.sub("", str(exc)).splitlines()]
    lines = [line for line in lines if line]
    causes = [line for line in lines if not line.startswith("Failed in ")] or lines or [""]
    cause = causes[0]
    if cause.endswith(":") and len(causes) > 1:
        cause = f"{cause} {causes[1]}"
    if len(cause) > _FAILURE_WIDTH:
        cause = cause[: _FAILURE_WIDTH - 3] + "..."
    return f"{COMPILE_FAILED}{type(exc).__name__}: {cause}"


#: ``(int64, unicode_type)``: a signature as warnings, reports and log records show it.
describe_types = log.signature_of
