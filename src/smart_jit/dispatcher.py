"""``SmartDispatcher``: Numba's CPU dispatcher, with a per-call policy on type misses.

Numba's C dispatcher runs every call whose argument types match a compiled
overload; only a miss reaches Python, through ``_compile_for_args``.  That
method is the one seam overridden here, so a matched call costs what a plain
``numba.njit`` call costs.  On a miss the dispatcher looks for an overload
Numba would have used anyway (exact, by conversion to an explicit signature,
the object-mode fallback, or on disk with ``cache=True``); only if there is
none does it ask ``use_jit``.

``_compile_for_args`` returns the callable the C side then calls with the same
folded arguments: a compiled entry point, the Python function, or, when the
call already ran here, a callable that hands back its result.
"""

from __future__ import annotations

import functools
import inspect
import itertools
import pickle
import re
import threading
import warnings
import weakref
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from time import perf_counter
from typing import Any, NamedTuple

import numpy as np
from numba._dispatcher import compute_fingerprint
from numba.core import compiler, serialize, sigutils, types
from numba.core.compiler_lock import global_compiler_lock
from numba.core.dispatcher import OmittedArg
from numba.core.errors import ForceLiteralArg
from numba.core.registry import CPUDispatcher
from numba.core.types import Omitted  # type: ignore[attr-defined]

from . import argtypes, background, events, forksafe, shipping
from .action import Action, PolicyArgumentError
from .argtypes import (
    class_key,
    class_typed,
    numba_typeof,
    typeof_arg,
    typeof_registry,
)
from .diskcache import MissStamp, TolerantCache, warn_cache
from .warnings import NumbaInterpreterModeWarning

_UNSEEN = object()
_pyobject = types.pyobject
# Classes the C dispatcher fingerprints and the class memo never holds: the
# miss path does not look them up there.
_FINGERPRINTED = frozenset({int, float, complex, bool, np.ndarray})
_AMBIGUOUS = object()
_JIT, _INTERPRETER = Action.JIT, Action.INTERPRETER
_RAISE_EXCEPTION, _BACKGROUND_JIT = Action.RAISE_EXCEPTION, Action.BACKGROUND_JIT
_listeners = events._registered
# id -> a weak reference to each live dispatcher, whose callback removes it.
# A plain dict, copied (one C call) before it is walked: the callback of a
# dispatcher dying on another thread may run at any point of the walk.  (A
# WeakSet's walk and its removal callback interleave: "Set changed size
# during iteration".)
_live: dict[int, weakref.ref[SmartDispatcher]] = {}
# Guards the C overload table against the event-mode switch (see events.py).
# Taken inside Numba's compiler lock, never around it.
_table_lock = forksafe.lock()
_event_mode = False

REASON_POLICY = "use_jit returned Action.INTERPRETER"
REASON_BACKGROUND = "compiling in the background"
REASON_DISABLED = "NUMBA_DISABLE_JIT is set"
COMPILE_FAILED = "compile failed: "  # how every failure reason starts


class Fallback(NamedTuple):
    """Calls with one argument-type signature that ran in the interpreter."""

    signature: tuple[types.Type, ...]
    reason: str
    calls: int


# Callables for the C dispatcher, which calls what the miss path returns
# with the call's folded arguments.  Made here, not in the methods: a
# closure's variables would be cells on every call of its method.


def _returning(value: Any) -> Callable[..., Any]:
    """Hands back a result computed on the miss path."""
    return lambda *_: value


def _calling(py_func: Callable[..., Any], call_args: tuple[Any, ...]) -> Callable[..., Any]:
    """Runs the Python function with the call's unfolded arguments."""
    return lambda *_: py_func(*call_args)


def _with_event(data: Any, py_func: Callable[..., Any], call_args: tuple[Any, ...]) -> Any:
    """Runs it between the start and end of an ``interpreter_execution``."""
    kind = events.INTERPRETER_EXECUTION
    return lambda *_: events.run_with_event(kind, data, py_func, call_args)


def _timed(dispatcher: Any, learner: Any, call_args: tuple[Any, ...]) -> Callable[..., Any]:
    """Runs it and tells *learner* how long it took (also when it raised:
    the time was spent); a generator is timed while it runs, from its first
    step to its last."""
    run = dispatcher.py_func
    if _listeners.get(events.INTERPRETER_EXECUTION):
        run = _with_event({"dispatcher": dispatcher, "args": call_args}, run, call_args)
    generates = dispatcher._generates

    def timed(*_: Any) -> Any:
        start = perf_counter()
        try:
            result = run(*call_args)
        except BaseException:
            learner.interpreted_call(call_args, perf_counter() - start)
            raise
        if generates:
            return TimedGenerator(result, learner, call_args, perf_counter() - start)
        learner.interpreted_call(call_args, perf_counter() - start)
        return result

    return timed


_packing = threading.local()  # the dispatchers this thread is pickling (by id)


class SmartDispatcher(CPUDispatcher):  # type: ignore[misc]
    """A Numba dispatcher that asks ``use_jit`` what to do on a type miss."""

    # Numba's meaning of ``_can_compile`` ("new signatures may be compiled at
    # call time").  The C field of the same name stays set, so that every miss
    # reaches ``_compile_for_args`` even with explicit signatures.
    _numba_can_compile = True
    # The signatures given ahead of time, once compilation is disabled.
    _declared: frozenset[tuple[types.Type, ...]] | None = None

    def __init__(
        self,
        py_func: Callable[..., Any],
        locals: dict[str, Any] | None = None,
        targetoptions: dict[str, Any] | None = None,
        pipeline_class: type = compiler.Compiler,
        *,
        use_jit: Callable[..., Action] | None = None,
        warn_on_fallback: bool = False,
        on_compile_error: Action | None = None,
        background: bool = False,
    ) -> None:
        # Threads inside Numba's compile of this function, on request.
        self._compiling_threads: set[int] = set()
        super().__init__(py_func, locals, targetoptions, pipeline_class)
        self._seen: dict[Any, _Seen] = {}  # type key -> what is known of those types
        self.use_jit = use_jit
        self.warn_on_fallback = warn_on_fallback
        self.on_compile_error = on_compile_error
        self.background = background
        self._miss_stamp: MissStamp | None = None  # with cache=True
        self._conversions: dict[tuple[types.Type, ...], Any] = {}
        self._generation = 0
        self._arrived = shipping.Arrived()  # compiled code a pickle brought
        self._shippable = shipping.Outgoing()  # what pickles of it carry
        params = list(self._compiler.pysig.parameters.values())
        self._has_stararg = bool(params) and params[-1].kind == params[-1].VAR_POSITIONAL
        self._plain_args = not py_func.__defaults__ and not self._has_stararg
        self._generates = inspect.isgeneratorfunction(py_func)
        _live[id(self)] = weakref.ref(self, functools.partial(_forget_dead_dispatcher, id(self)))

    @property
    def use_jit(self) -> Callable[..., Action] | None:
        """The policy asked on each call no compiled overload matches."""
        return self._use_jit

    @use_jit.setter
    def use_jit(self, policy: Callable[..., Action] | None) -> None:
        # A policy that learns (policies.adaptive) hands out one decision-maker
        # per signature, whose interpreted calls this dispatcher times.
        self._use_jit = policy
        self._learns = callable(getattr(policy, "learner", None))
        for seen in list(self._seen.values()):
            seen.learner = None

    # -- Numba's view of the dispatcher ------------------------------------

    def typeof_pyval(self, val: Any) -> Any:
        """Numba's answer, remembered per class where the class decides it.

        The C dispatcher calls this on every call for each argument it cannot
        fingerprint (a ``str``, a ``dict``, an object), matched or not.
        """
        cls = type(val)
        tp = class_typed.get(id(cls))  # str, dict, objects: the common case, inline
        # (an object may carry its own _numba_type_; a typeof_impl may be new).
        # A remembered type stays alive in the memo; pyobject always is.
        if (
            tp is None
            or len(typeof_registry) != argtypes.registry_size
            or (
                tp is _pyobject  # (carries_own_type, inline: this runs on every call)
                and cls.__dictoffset__
                and "_numba_type_" in getattr(val, "__dict__", ())
            )
        ):
            tp = numba_typeof(val)
            # Keeps the type alive while the C side holds its code, as Numba
            # does: a set from Numba 0.61, a list before.
            active = self._types_active_call
            if type(active) is set:
                active.add(tp)
            else:
                active.append(tp)
        return tp

    @property
    def _can_compile(self) -> bool:
        return self._numba_can_compile or threading.get_ident() in self._compiling_threads

    @_can_compile.setter
    def _can_compile(self, value: bool) -> None:
        self._numba_can_compile = bool(value)
        if not value and self._declared is None:
            # Compilation is disabled once the explicit signatures are in
            # (decoration, unpickling); overloads the policy adds later are
            # matched exactly, never converted to (see _find_conversion).
            self._declared = frozenset(self.overloads)

    @contextmanager
    def _compiling_on_request(self) -> Iterator[None]:
        """Let this thread compile a new signature despite explicit signatures."""
        me = threading.get_ident()
        outermost = me not in self._compiling_threads
        self._compiling_threads.add(me)
        try:
            yield
        finally:
            if outermost:
                self._compiling_threads.discard(me)

    def enable_caching(self) -> None:
        try:
            self._cache = TolerantCache(self.py_func)
        except RuntimeError as exc:  # Numba found no writable cache directory
            warn_cache(self.py_func.__qualname__, "is unavailable", exc)
            return
        self._miss_stamp = MissStamp(self.py_func, self._cache._cache_file._index_path)

    def add_overload(self, cres: Any) -> None:
        if type(self) not in shipping.serving:  # (at a first compile: see there)
            shipping.serve_local_processes(type(self))
        args = tuple(cres.signature.args)
        with _table_lock:
            self.overloads[args] = cres
            replaced = self._conversions.pop(args, None)
            self._forget_resolutions()
            if replaced is not None or _event_mode:
                self._refill_table()
            else:
                self._insert([a._code for a in args], cres.entry_point, cres.objectmode)

    def _reset_overloads(self) -> None:
        # What was learned of each signature stays (the calls interpreted,
        # the policy's account): only what the overloads answered goes.
        with _table_lock:
            super()._reset_overloads()
            self._conversions.clear()
            self._forget_resolutions()
            for seen in list(self._seen.values()):
                seen.failure = None  # the globals may have changed: compile again

    def _forget_resolutions(self) -> None:
        """A new overload may serve types that so far had none."""
        self._generation += 1
        for seen in list(self._seen.values()):
            seen.entry, seen.stamp = None, _UNSEEN

    def _refill_table(self) -> None:
        """Make the C overload table match ``overloads`` (empty in event mode)."""
        self._clear()
        if _event_mode:
            return
        entries = [*self.overloads.items(), *self._conversions.items()]
        for types_of_args, cres in entries:
            self._insert([a._code for a in types_of_args], cres.entry_point, cres.objectmode)

    # -- pickling: Numba's state plus the policy -----------------------------

    def __reduce__(self) -> Any:
        """Numba's reduction, with every state but the uuid pickled once more
        inside: a process that already has this dispatcher (Numba's memo by
        uuid) unpickles nothing else (not the function, the policy, the code),
        which Dask and ``concurrent.futures`` send with every task.

        A function that refers to itself (recursion, a closure cell) meets
        itself inside that inner pickle: there it is reduced as Numba does,
        where the inner pickler's memo of the function ends the recursion."""
        states = self._reduce_states()
        in_progress = _packing.__dict__.setdefault("ids", set())
        if id(self) in in_progress:
            return serialize.custom_reduce(self._reduce_class(), states)
        in_progress.add(id(self))
        try:
            uuid = states.pop("uuid")
            packed = serialize.dumps(states)
        finally:
            in_progress.discard(id(self))
        return serialize.custom_reduce(self._reduce_class(), {"uuid": uuid, "packed": packed})

    def _reduce_states(self) -> dict[str, Any]:
        states: dict[str, Any] = super()._reduce_states()
        if self._declared is not None:
            states["sigs"] = [c.signature for k, c in self.overloads.items() if k in self._declared]
        states.update(
            use_jit=self.use_jit,
            warn_on_fallback=self.warn_on_fallback,
            on_compile_error=self.on_compile_error,
            background=self.background,
            cache=self._miss_stamp is not None,
            **shipping.pack(self),
        )
        return states

    @classmethod
    def _rebuild(cls, uuid: str, packed: bytes | None = None, **states: Any) -> SmartDispatcher:
        """The dispatcher *uuid* if this process has it, else one rebuilt from
        the states (``packed`` by ``__reduce__``, or given as they are)."""
        if packed is not None:
            try:
                return cls._memo[uuid]  # type: ignore[no-any-return]  # arrived before
            except KeyError:
                states = pickle.loads(packed)
        return cls._rebuild_from_states(uuid=uuid, **states)

    @classmethod
    def _rebuild_from_states(
        cls,
        uuid: str,
        py_func: Callable[..., Any],
        locals: dict[str, Any],
        targetoptions: dict[str, Any],
        can_compile: bool,
        sigs: list[Any],
        use_jit: Callable[..., Action] | None = None,
        warn_on_fallback: bool = False,
        on_compile_error: Action | None = None,
        background: bool = False,
        cache: bool = False,
        code: Any = None,
        failures: Any = (),
        function: str | None = None,
    ) -> SmartDispatcher:
        try:
            return cls._memo[uuid]  # type: ignore[no-any-return]  # arrived before
        except KeyError:
            pass
        self = cls(
            py_func,
            locals,
            targetoptions,
            use_jit=use_jit,
            warn_on_fallback=warn_on_fallback,
            on_compile_error=on_compile_error,
            background=background,
        )
        if cache and _in_its_file(py_func):
            self.enable_caching()
        self._set_uuid(uuid)
        same = function is not None and function == shipping.function_digest(py_func)
        self._arrived.add(self.targetctx, code, failures, same)
        for sig in sigs:
            self.compile(sig)  # from the code that arrived, if it did
        self._can_compile = can_compile
        return self

    def compile(self, sig: Any) -> Any:
        """Numba's ``compile``, using compiled code a pickle brought first."""
        if self._arrived.code:
            args, _ = sigutils.normalize_signature(sig)
            cres = self._install_arrived(tuple(args))
            if cres is not None:
                return cres.entry_point
        return super().compile(sig)

    def _install_arrived(self, argtypes: tuple[types.Type, ...]) -> Any:
        """Install the overload for *argtypes* that a pickle brought, if any."""
        with global_compiler_lock:  # one thread rebuilds; the others find it installed
            existing = self.overloads.get(argtypes)
            if existing is not None:
                return existing
            data = self._arrived.take(argtypes)
            if data is None:
                return None
            from . import compiled_code  # not at import: only pickles bring code

            try:
                cres = compiled_code.from_bytes(self.targetctx, data)
            except Exception:  # it cannot be rebuilt here: compile as Numba would
                return None
            self._install(cres)
            self._cache.save_overload(argtypes, cres)  # a no-op without cache=True
            return cres

    def _install(self, cres: Any) -> Any:
        """Add a result compiled elsewhere (disk cache, compile process, a
        pickle) as Numba adds a disk-cache hit; an overload already there wins."""
        with global_compiler_lock:
            existing = self.overloads.get(tuple(cres.signature.args))
            if existing is not None:
                return existing
            if not cres.objectmode:
                self.targetctx.insert_user_function(cres.entry_point, cres.fndesc, [cres.library])
            self.add_overload(cres)
            return cres

    # -- the miss path -------------------------------------------------------

    def _compile_for_args(self, *args: Any, **kws: Any) -> Any:
        """Called by the C dispatcher when no overload in its table matched."""
        if self._types_active_call:  # the C side is done with this call's types
            self._types_active_call.clear()
        key: Any = None
        if args:  # a str, a dict, an object: no fingerprint
            first = type(args[0])
            if first not in _FINGERPRINTED and id(first) in class_typed:
                key = class_key(args)
        if key is None:
            try:
                key = compute_fingerprint(args)
            except Exception:  # omitted defaults, or values Numba's C typeof cannot key
                key = self._typecodes(args)
        seen = self._seen.get(key)
        if seen is None or (seen.stamp is not None and seen.stamp != self._disk_stamp()):
            seen = self._look_up(key, args)
        if seen.entry is not None:
            return self._run_compiled(seen.entry, args)
        if self._compiling_threads and threading.get_ident() in self._compiling_threads:
            # Numba's own miss path calls back in, with literal types in
            # place of values that numba.literally asked for: its call.
            return super()._compile_for_args(*args, **kws)
        call_args = args if self._plain_args else self._unfold(args)
        if seen.pending is not None:
            background.let_compile_run()
            return self._interpret(seen, call_args, REASON_BACKGROUND)
        use_jit = self._use_jit
        learner = None
        if use_jit is None:
            action = self._default_action()
        else:
            if self._learns:
                use_jit = learner = seen.learner or self._learner(seen, call_args)
            try:
                action = use_jit(*call_args)
            except PolicyArgumentError as exc:  # a ready-made policy: name the function
                name = self.py_func.__qualname__
                raise PolicyArgumentError(f"use_jit of {name}: {exc}") from None
        if action is _INTERPRETER:
            if learner is None:  # (no keyword on the common path: it costs)
                return self._interpret(seen, call_args, REASON_POLICY)
            return self._interpret(seen, call_args, REASON_POLICY, learner=learner)
        if action is _JIT and not self.background:
            return self._jit(seen, args, call_args)
        if action is _JIT or action is _BACKGROUND_JIT:
            return self._jit_in_background(seen, args, call_args)
        if action is _RAISE_EXCEPTION:
            self._explain_matching_error(*args)  # raises
        raise TypeError(
            f"use_jit of {self.py_func.__qualname__} returned {action!r}; "
            f"expected one of {', '.join(str(a) for a in Action)}"
        )

    def _learner(self, seen: _Seen, call_args: tuple[Any, ...]) -> Any:
        """The learning policy's decision-maker for these types, given the
        types already computed (as reported, and as Numba compiles them)."""
        argtypes = self._reported_types(seen, call_args)
        seen.learner = self._use_jit.learner(self, argtypes, seen.folded_types)  # type: ignore[union-attr]
        return seen.learner

    @staticmethod
    def _typecodes(args: tuple[Any, ...]) -> tuple[int, ...]:
        """A memo key for values the C side could not fingerprint: Numba's
        type codes (ints, fast to hash, one per type).  ``_argtypes`` would
        give the same codes through one more tuple: 0.5 to 0.9 us on each such
        miss."""
        return tuple(
            Omitted(a.value)._code if isinstance(a, OmittedArg) else typeof_arg(a)._code
            for a in args
        )

    @staticmethod
    def _argtypes(
        args: tuple[Any, ...], typeof: Callable[[Any], Any] = typeof_arg
    ) -> tuple[Any, ...]:
        """Types of the folded arguments, by default as the C dispatcher types
        them: the memo is keyed by its fingerprint, so both must agree (an int
        is intp)."""
        return tuple(Omitted(a.value) if isinstance(a, OmittedArg) else typeof(a) for a in args)

    def _disk_stamp(self) -> Any:
        """Changes whenever the disk cache could answer a look-up differently."""
        return None if self._miss_stamp is None else self._miss_stamp()

    def _look_up(self, key: Any, args: tuple[Any, ...]) -> _Seen:
        """Find the overload Numba would run for these types without compiling."""
        generation = self._generation
        stamp = self._disk_stamp()
        seen = self._seen.get(key) or self._seen.setdefault(key, _Seen())
        argtypes = self._argtypes(args)  # the key may be a fingerprint or classes
        seen.folded_types = argtypes
        cres = self.overloads.get(argtypes)
        if cres is None and not self._numba_can_compile:
            cres = self._find_conversion(argtypes)
        if cres is None and self._arrived.code:
            cres = self._install_arrived(argtypes)
        if cres is None and self._miss_stamp is not None:
            cres = self._load_from_disk(argtypes)
        if cres is None and self._arrived.failures:
            seen.failure = seen.failure or self._arrived.failures.get(argtypes)
        if cres is not None:
            seen.entry, seen.stamp = cres.entry_point, None
        elif generation == self._generation:
            seen.stamp = stamp
        return seen

    def _find_conversion(self, argtypes: tuple[Any, ...]) -> Any:
        """With explicit signatures, what Numba's C dispatcher runs: the one
        signature its type manager converts these types to (unsafe
        conversions allowed, conversions Numba has not registered yet
        installed first, as its ``_search_new_conversions`` does), else the
        object-mode fallback.

        Only the signatures given ahead of time are converted to, so the answer
        never depends on which overloads the policy (or another process, through
        the disk cache) compiled since.  Where they make a conversion ambiguous,
        Numba raises; with a ``use_jit`` the call is a miss and the policy decides.
        """
        declared = [c for k, c in self.overloads.items() if k in (self._declared or ())]
        found = self._select(argtypes, declared)
        if found is None:
            for cres in declared:
                if not cres.objectmode:
                    self.typingctx.install_possible_conversions(argtypes, cres.signature.args)
            found = self._select(argtypes, declared)
        if found is _AMBIGUOUS:
            if self.use_jit is None:
                self._raise_ambiguous(argtypes, declared)
            return None
        if found is not None:
            cres = declared[found]
        elif self._can_fallback():
            # Numba's C dispatcher runs the first object-mode overload when no
            # signature matches and none may be compiled ("fallbackdef").
            cres = next((c for c in declared if c.objectmode), None)
            if cres is None:
                return None
        else:
            return None
        with global_compiler_lock, _table_lock:
            if argtypes not in self._conversions and argtypes not in self.overloads:
                self._conversions[argtypes] = cres
                if not _event_mode:
                    self._insert([a._code for a in argtypes], cres.entry_point, cres.objectmode)
        return cres

    def _load_from_disk(self, argtypes: tuple[types.Type, ...]) -> Any:
        with global_compiler_lock:
            cres = self.overloads.get(argtypes)
            if cres is not None:
                return cres
            cres = self._cache.load_overload(argtypes, self.targetctx)
            if cres is None:
                return None
            self._cache_hits[argtypes] += 1
            return self._install(cres)

    def _select(self, argtypes: tuple[Any, ...], declared: list[Any]) -> Any:
        """The index of the overload Numba's type manager picks, None, or _AMBIGUOUS."""
        try:
            return self._tm.select_overload(
                argtypes, [c.signature.args for c in declared], True, False
            )
        except TypeError as exc:  # "No compatible overload" or "Ambiguous overloading"
            return _AMBIGUOUS if "mbiguous" in str(exc) else None

    def _raise_ambiguous(self, argtypes: tuple[Any, ...], declared: list[Any]) -> None:
        """Numba's ``_explain_ambiguous``, for types rather than values."""
        signatures = [c.signature for c in declared if not c.objectmode]
        self.typingctx.resolve_overload(
            self.py_func, signatures, argtypes, {}, allow_ambiguous=False
        )  # raises "Ambiguous overloading for ..."
        raise TypeError(f"Ambiguous overloading for {self.py_func} {argtypes}")

    def _can_fallback(self) -> bool:
        return not self.targetoptions.get("nopython", False)

    def _default_action(self) -> Action:
        """Without ``use_jit``, what ``numba.jit`` does on a miss."""
        if not self._numba_can_compile:
            return Action.RAISE_EXCEPTION
        return Action.JIT

    def _unfold(self, args: tuple[Any, ...]) -> tuple[Any, ...]:
        """The folded arguments as the Python function takes them, positionally."""
        values = [a.value if isinstance(a, OmittedArg) else a for a in args]
        if self._has_stararg:
            values[-1:] = values[-1]
        return tuple(values)

    def _jit(self, seen: _Seen, args: tuple[Any, ...], call_args: tuple[Any, ...]) -> Any:
        if seen.failure is not None:
            return self._interpret(seen, call_args, seen.failure, stacklevel=4)
        try:
            with self._compiling_on_request():
                entry = super()._compile_for_args(*args)
        except Exception as exc:
            if self.on_compile_error is not Action.INTERPRETER:
                raise
            failure = _describe_failure(exc)
            if self._argtypes(args, self.typeof_pyval) == seen.folded_types:  # Numba's view
                seen.failure = failure  # else it failed for this value only (an int too big)
            return self._interpret(seen, call_args, failure, stacklevel=4)
        return self._run_compiled(entry, args)

    def _jit_in_background(
        self, seen: _Seen, args: tuple[Any, ...], call_args: tuple[Any, ...]
    ) -> Any:
        if seen.needs_values:
            return self._jit(seen, args, call_args)
        if seen.failure is not None:
            return self._interpret(seen, call_args, seen.failure, stacklevel=4)
        self._announce(seen, call_args, stacklevel=4)  # a refused call queues nothing
        with _table_lock:
            done = None if seen.pending is not None else threading.Event()
            seen.pending = seen.pending or done
        try:  # run first, queue after: the compile must not slow this call down
            return self._interpret(seen, call_args, REASON_BACKGROUND, now=True, announced=True)
        finally:
            if done is not None:
                argtypes = seen.folded_types
                background.submit(self, done, self._compile_in_background, seen, argtypes)

    def _compile_in_background(self, seen: _Seen, argtypes: tuple[types.Type, ...]) -> None:
        """Run on the background worker: in the compile process where one may
        be used and the function can travel, else on this thread."""
        from . import compile_process  # not at import: only background compiles need it

        try:
            if not (compile_process.uses_process() and self._compile_in_process(argtypes)):
                with self._compiling_on_request(), background.compiling_on_thread():
                    self.compile(argtypes)
        except ForceLiteralArg:
            # It asks for literal arguments (numba.literally): only a call's
            # values can be compiled for, as Numba's own miss path does.
            seen.needs_values = True
        except Exception as exc:
            seen.failure = _describe_failure(exc)
            if self.warn_on_fallback:
                warnings.warn(
                    f"{self.py_func.__name__}{_describe(argtypes)} not using JIT: "
                    f"background {seen.failure}",
                    NumbaInterpreterModeWarning,
                    stacklevel=1,
                )
        finally:
            seen.pending = None

    def _compile_in_process(self, argtypes: tuple[types.Type, ...]) -> bool:
        """Compile in the compile process and install the result as Numba
        installs a disk-cache hit; False if the thread must compile instead."""
        from . import compile_process

        if argtypes in self.overloads:
            return True
        if self._miss_stamp is not None and self._load_from_disk(argtypes) is not None:
            return True  # another process compiled it meanwhile
        cres = compile_process.compile(self, argtypes)
        if cres is None:
            return False
        with global_compiler_lock:
            if self._install(cres) is cres:  # not compiled meanwhile by a foreground call
                self._cache.save_overload(argtypes, cres)  # a no-op without cache=True
        return True

    def _forget_background(self) -> None:
        for seen in list(self._seen.values()):
            seen.pending = None

    def wait_compiled(self, timeout: float | None = None) -> bool:
        """Wait until every compile queued for this function is done.

        Returns False if *timeout* seconds passed first.
        """
        pending = [s.pending for s in list(self._seen.values()) if s.pending is not None]
        return background.wait(pending, timeout)

    def recompile(self) -> None:
        """Numba's ``recompile``, once this function's queued background
        compiles are done: they would otherwise add their overloads after it,
        where ``wait_compiled()`` no longer sees them.  Compiled code that a
        pickle brought and that is not installed yet is dropped: recompiling
        means compiling here, with the globals as they are now."""
        self.wait_compiled()
        self._arrived.code.clear()
        super().recompile()

    def _run_compiled(self, entry: Any, args: tuple[Any, ...]) -> Any:
        if _listeners.get(events.JIT_EXECUTION):
            call_args = args if self._plain_args else self._unfold(args)
            data = {"dispatcher": self, "args": call_args}
            return _returning(events.run_with_event(events.JIT_EXECUTION, data, entry, args))
        return entry

    def _interpret(
        self,
        seen: _Seen,
        call_args: tuple[Any, ...],
        reason: str,
        stacklevel: int = 3,
        now: bool = False,
        announced: bool = False,
        learner: Any = None,
    ) -> Any:
        """Announce and count this call; return what the C caller then calls
        to run the Python function (timed for a *learner*; run here and now
        if *now*).  One method call on the hot interpreted path.

        The call runs after ``_compile_for_args`` has returned, so that an
        interpreted recursion holds no frame of ours per level (with plain
        arguments, the C caller runs the Python function itself)."""
        if self.warn_on_fallback and not announced:
            self._announce(seen, call_args, stacklevel + 1, reason)
        counter = seen.counts.get(reason)
        if counter is None:
            self._reported_types(seen, call_args)
            counter = seen.counts.setdefault(reason, itertools.count())
        next(counter)
        if learner is not None:
            return _timed(self, learner, call_args)
        if _listeners.get(events.INTERPRETER_EXECUTION):
            data = {"dispatcher": self, "args": call_args}
            if now:
                kind = events.INTERPRETER_EXECUTION
                return _returning(events.run_with_event(kind, data, self.py_func, call_args))
            return _with_event(data, self.py_func, call_args)
        if now:
            return _returning(self.py_func(*call_args))
        if self._plain_args:
            return self.py_func
        return _calling(self.py_func, call_args)

    def _announce(
        self, seen: _Seen, call_args: tuple[Any, ...], stacklevel: int, reason: str = ""
    ) -> None:
        """Warn under ``warn_on_fallback`` (*stacklevel* counted from here),
        saying why when a compile failed.  A filter that turns the warning into
        an error refuses the call: it raises here, before anything is counted,
        queued or run."""
        if self.warn_on_fallback:
            why = f": {reason}" if reason.startswith(COMPILE_FAILED) else ""
            warnings.warn(
                f"{self.py_func.__name__}{_describe(self._reported_types(seen, call_args))}"
                f" not using JIT{why}",
                NumbaInterpreterModeWarning,
                stacklevel=stacklevel,
            )

    # -- why calls were interpreted ------------------------------------------

    def _reported_types(self, seen: _Seen, call_args: tuple[Any, ...]) -> tuple[types.Type, ...]:
        """The call's types as the policy sees its arguments: defaults filled in,
        ``*args`` expanded."""
        if seen.argtypes is None:
            unfolded = not self._plain_args
            seen.argtypes = tuple(map(typeof_arg, call_args)) if unfolded else seen.folded_types
        return seen.argtypes  # type: ignore[no-any-return]

    def fallbacks(self) -> list[Fallback]:
        """Per argument-type signature and reason, the calls that were interpreted.

        Calls that fold differently (``f(1)`` and ``f(1, 10)`` for a default
        ``b=10``) but have the same types are one signature."""
        calls: dict[tuple[Any, str], int] = {}
        for seen in list(self._seen.values()):
            for reason, counter in list(seen.counts.items()):
                key = (seen.argtypes, reason)
                calls[key] = calls.get(key, 0) + count_of(counter)
        return [Fallback(argtypes, reason, n) for (argtypes, reason), n in calls.items()]


class _Seen:
    """What one dispatcher knows about one argument-type signature."""

    __slots__ = (
        "entry",
        "stamp",
        "failure",
        "pending",
        "counts",
        "argtypes",
        "folded_types",
        "learner",
        "needs_values",
    )

    def __init__(self) -> None:
        self.entry: Any = None  # the compiled entry point Numba would run
        self.stamp: Any = _UNSEEN  # cache-index stamp when no entry was found
        self.failure: str | None = None  # why compiling these types failed
        self.pending: threading.Event | None = None  # a queued background compile
        self.counts: dict[str, itertools.count[int]] = {}  # reason -> interpreted calls
        self.argtypes: Any = None  # Numba types of the call, as reported
        self.folded_types: Any = None  # Numba types of the folded arguments
        self.learner: Any = None  # a learning policy's decision-maker for them
        self.needs_values = False  # compiles need the call's values (numba.literally)


class TimedGenerator(Generator[Any, Any, Any]):
    """An interpreted generator whose steps are timed into its learner's
    account, as one call, told once it is done (exhausted, raised, closed
    or dropped)."""

    __slots__ = ("_generator", "_learner", "_call_args", "_spent")

    def __init__(
        self, generator: Any, learner: Any, call_args: tuple[Any, ...], spent: float
    ) -> None:
        self._generator = generator
        self._learner = learner
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
            self._learner.interpreted_call(call_args, self._spent)

    def __del__(self) -> None:
        self._done()


def count_of(counter: itertools.count[int]) -> int:
    """How many times ``next()`` was called on *counter* (atomic under the GIL)."""
    return int(repr(counter)[len("count(") : -1])


_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")
_FAILURE_WIDTH = 200


def _describe_failure(exc: BaseException) -> str:
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


def _in_its_file(py_func: Callable[..., Any]) -> bool:
    """Whether a function that arrived in a pickle is the one its file on
    disk defines now (else its disk cache would mix two codes, as a plain
    rebuilt Numba dispatcher, which has no cache, never does)."""
    from . import compiled_code  # not at import: only pickles bring functions

    return compiled_code.file_defines(py_func)


def _describe(argtypes: tuple[types.Type, ...]) -> str:
    return "(" + ", ".join(map(str, argtypes)) + ")"


def _forget_dead_dispatcher(key: int, _ref: Any) -> None:
    """The weak reference's callback: takes no lock (it runs wherever the
    dispatcher dies, a thread holding the table lock included)."""
    _live.pop(key, None)


def _set_event_mode(active: bool) -> None:
    """Route matched calls through Python while ``jit_execution`` has
    listeners.  If a table cannot be refilled, every table is put back as it
    was and the error propagates (the listener is then not installed)."""
    global _event_mode
    with _table_lock:
        previous, _event_mode = _event_mode, active
        try:
            _refill_every_table()
        except BaseException:
            _event_mode = previous
            _refill_every_table(tolerant=True)
            raise


def _refill_every_table(tolerant: bool = False) -> None:
    for ref in _live.copy().values():
        dispatcher = ref()
        if dispatcher is not None:
            try:
                dispatcher._refill_table()
            except Exception:
                if not tolerant:
                    raise
                # Its table stays partly empty: its misses still find their
                # overloads through _compile_for_args.


def _forget_compiling_threads() -> None:
    """In a forked child, the threads that were compiling do not exist."""
    for ref in _live.copy().values():
        dispatcher = ref()
        if dispatcher is not None:
            dispatcher._compiling_threads.clear()


forksafe.in_child(_forget_compiling_threads)
events.watch_jit_listeners(_set_event_mode)
if events.listening(events.JIT_EXECUTION):
    _set_event_mode(True)
