"""``SmartDispatcher``: Numba's CPU dispatcher, with a per-call policy on type misses.

A matched call never leaves Numba's C dispatcher.  A miss reaches
``_compile_for_args``, which runs an overload Numba would have used anyway
(exact, converted to a declared signature, shipped in a pickle, on disk) or
else asks the policy, and returns what C then calls with the same arguments.
Each mechanism is a collaborator that takes what it needs as arguments.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import partial
from typing import Any

from numba._dispatcher import compute_fingerprint
from numba.core import compiler, sigutils, types
from numba.core.registry import CPUDispatcher

from . import (
    argtypes,
    conversions,
    declared,
    events,
    interpretable,
    interpreted,
    log,
    permission,
    pickling,
    shipping,
    stances,
    table,
)
from . import background as compiles
from .action import Action, not_an_action
from .argtypes import by_class, class_key
from .compiled_code import install_foreign
from .diskcache import NO_DISK, DiskLookup, TolerantCache, warn_cache
from .errors import CompileForbidden, PolicyArgumentError
from .interpreted import REASON_BACKGROUND, REASON_POLICY, Fallback, decided_by, describe_types
from .protocols import Account, LearningPolicy, learning
from .records import Records, SignatureRecord

_JIT, _INTERPRETER = Action.JIT, Action.INTERPRETER
_RAISE_EXCEPTION, _BACKGROUND_JIT = Action.RAISE_EXCEPTION, Action.BACKGROUND_JIT
_FINGERPRINTED, _granted = argtypes.FINGERPRINTED, permission.granted
_listeners, _JIT_EXECUTION = events.listeners, events.JIT_EXECUTION
_stance, REASON_INTERPRET = stances.state, stances.REASON_INTERPRET


class SmartDispatcher(CPUDispatcher):  # type: ignore[misc]
    """A Numba dispatcher that asks ``use_jit`` what to do on a type miss."""

    # Numba's ``_can_compile`` (compile new signatures at call time); the C
    # field stays set, so every miss reaches ``_compile_for_args``.
    _numba_can_compile = True
    # The signatures given ahead of time, once compilation is disabled.
    _declared: frozenset[tuple[types.Type, ...]] | None = None
    # Declared signatures not compiled yet (``declare``: lazy signatures).
    _waiting = declared.Waiting()

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
        super().__init__(py_func, locals, targetoptions, pipeline_class)
        self._records = Records()
        self.use_jit = use_jit
        self.warn_on_fallback = warn_on_fallback
        self.on_compile_error = on_compile_error
        self.background = background
        self._disk: Any = NO_DISK  # a DiskLookup with cache=True
        self._table = table.Table(self)
        self._incoming = shipping.Incoming()  # compiled code a pickle brought
        self._outgoing = shipping.Outgoing()  # what pickles of it carry
        self._interpreter = interpreted.Interpreter(py_func, self._compiler.pysig)
        self._plain_args = self._interpreter.plain_args

    @property
    def use_jit(self) -> Callable[..., Action] | None:
        """The policy asked on each call no compiled overload matches."""
        return self._use_jit

    @use_jit.setter
    def use_jit(self, policy: Callable[..., Action] | None) -> None:
        self._use_jit = policy
        self._learning: LearningPolicy | None = learning(policy)  # its accounts: timed here
        self._records.forget_accounts()

    # -- Numba's seams -------------------------------------------------------

    typeof_pyval = argtypes.typeof_pyval  # the C dispatcher's callback per argument

    @property
    def _can_compile(self) -> bool:
        return self._numba_can_compile or (id(self), threading.get_ident()) in _granted

    @_can_compile.setter
    def _can_compile(self, value: bool) -> None:
        self._numba_can_compile = bool(value)
        if not value and self._declared is None:
            # Compilation is disabled once the explicit signatures are in
            # (decoration, unpickling); overloads the policy adds later are
            # matched exactly, never converted to (see _convert).
            self._declared = frozenset(self.overloads) | frozenset(self._waiting)

    def declare(self, sigs: list[Any]) -> None:
        """Take *sigs* as the explicit signatures, each compiled when a call or
        a caller's compile first needs it (lazy signatures)."""
        self._waiting = declared.Waiting.of(sigs)
        self._can_compile = False

    def _compile_waiting(self, wanted: Any) -> None:
        """Compile the declared signature calls of types *wanted* run as
        (``declared.ALL``: every one still waiting)."""
        with permission.on_request(id(self)):
            every, typing = self._declared or (), (self._tm, self.typingctx)
            self._waiting.compile(wanted, self.compile, *typing, every)

    def get_call_template(self, args: Any, kws: Any) -> Any:
        if self._waiting:  # a caller's compile needs one of them
            self._compile_waiting(tuple(self._compiler.fold_argument_types(args, kws)[1]))
        return super().get_call_template(args, kws)

    def enable_caching(self) -> None:
        try:
            self._cache = TolerantCache(self.py_func)
        except RuntimeError as exc:  # Numba found no writable cache directory
            warn_cache(self.py_func.__qualname__, "is unavailable", exc)
            return
        self._disk = DiskLookup(self.py_func, self._cache, self._cache_hits)

    def add_overload(self, cres: Any) -> None:
        shipping.serve_local_processes(type(self))  # (at a first compile: see there)
        folded = tuple(cres.signature.args)
        self._waiting.pop(folded, None)  # a declared signature, compiled however it was
        with table.lock:
            self.overloads[folded] = cres
            self._records.forget_resolutions()
            self._table.add(folded, cres)

    def _reset_overloads(self) -> None:
        # Calls interpreted and accounts stay; answers and failures go (new globals).
        with table.lock:
            super()._reset_overloads()
            self._table.conversions.clear()
            self._records.forget_resolutions()
            self._records.forget_failures()

    def __reduce__(self) -> Any:
        return pickling.reduce(id(self), self._reduce_class(), self._reduce_states())

    def _reduce_states(self) -> dict[str, Any]:
        if self._waiting:  # a rebuilt dispatcher declares what this one compiled
            self._compile_waiting(declared.ALL)
        states, cached = super()._reduce_states(), bool(self._disk)
        return pickling.states(self, states, self._declared, cached, self._records, self._outgoing)

    @classmethod
    def _rebuild(cls, uuid: str, packed: bytes | None = None, **states: Any) -> SmartDispatcher:
        """The dispatcher *uuid* if this process has it, else one rebuilt from
        the states (``packed`` by ``__reduce__``, or given as they are)."""
        found, states = pickling.unpack(cls._memo, uuid, packed, states)
        if found is not None:
            return found  # type: ignore[no-any-return]  # arrived before
        py_func = states["py_func"]
        self = cls(py_func, states["locals"], states["targetoptions"], **pickling.options(states))
        if states.get("cache") and pickling.in_its_file(py_func):
            self.enable_caching()
        self._set_uuid(uuid)
        self._incoming.add(self.targetctx, *pickling.arrived(states))
        for sig in states["sigs"]:
            self.compile(sig)  # from the code that arrived, if it did
        self._can_compile = states["can_compile"]
        return self

    def compile(self, sig: Any) -> Any:
        """Numba's ``compile``, using compiled code a pickle brought first."""
        folded = tuple(sigutils.normalize_signature(sig)[0])
        cres = self._install_shipped(folded) if self._incoming.code else None
        if cres is not None:
            return cres.entry_point
        if stances.forbids_compiles():
            if folded not in self.overloads and self._load_from_disk(folded) is None:
                raise CompileForbidden.of(self.py_func.__qualname__, describe_types(folded))
        return super().compile(sig)

    def _install_shipped(self, folded: tuple[types.Type, ...]) -> Any:
        install = partial(self._install_foreign, save=True)
        return self._incoming.install(folded, self.overloads, self.targetctx, install)

    def _install_foreign(self, cres: Any, save: bool = False) -> Any:
        """Add a result compiled elsewhere; *save* it to the disk cache (a
        no-op without ``cache=True``)."""
        saving = self._cache.save_overload if save else None
        return install_foreign(cres, self.overloads, self.targetctx, self.add_overload, saving)

    # -- the miss path -------------------------------------------------------

    def _compile_for_args(self, *args: Any, **kws: Any) -> Any:
        """Callback for the C dispatcher when no overload in its table matched."""
        if self._types_active_call:  # the C side is done with this call's types
            self._types_active_call.clear()
        key: Any = None  # argtypes.memo_key, inline: no Python call on the miss path
        if args:
            first = type(args[0])
            if first not in _FINGERPRINTED and id(first) in by_class:
                key = class_key(args)
        if key is None:
            try:
                key = compute_fingerprint(args)
            except Exception:  # omitted defaults, or values Numba's C typeof cannot key
                key = argtypes.type_codes(args)
        record = self._records.get(key)
        if record is None or (
            record.disk_stamp is not None and record.disk_stamp != self._disk.stamp()
        ):
            record = self._resolve(key, args)
        stance = _stance.current  # read once: another thread may switch it
        if record.entry is not None and (stance is None or not self._interprets(stance)):
            return self._run_compiled(record.entry, args)
        if _granted and (id(self), threading.get_ident()) in _granted:
            # numba.literally: Numba's miss path calls back with literal types.
            return super()._compile_for_args(*args, **kws)
        call_args = args if self._plain_args else self._interpreter.call_values(args)
        if record.pending is not None:
            if stance is not None and self._interprets(stance):  # its reason, not the compile's
                return self._interpreter.run(self, record, call_args, REASON_INTERPRET)
            compiles.let_compile_run()
            return self._interpreter.run(self, record, call_args, REASON_BACKGROUND)
        policy, account, reason = self._use_jit, None, REASON_POLICY
        if stance is not None:  # the stance's policy stands in for a missing one
            if self._interprets(stance):
                return self._interpreter.run(self, record, call_args, REASON_INTERPRET)
            if policy is None and self._numba_can_compile and not self.why_compiled():
                policy, reason = stance.policy_for(self), stance.reason
                account = self._account(learning(policy), record, call_args)
                policy = account or policy
        if policy is None:
            action = _RAISE_EXCEPTION if not self._numba_can_compile else _JIT
        else:
            if self._learning is not None:
                policy = account = record.account or self._interpreter.open_account(
                    self._learning, self, record, call_args
                )
            try:
                action = policy(*call_args)
            except PolicyArgumentError as exc:  # a ready-made policy's: name the function
                raise exc.of(self.py_func.__qualname__) from None
        if action is _INTERPRETER:
            return self._interpreter.run(self, record, call_args, reason, account)
        if action is _RAISE_EXCEPTION:
            self._refuse(record, args, reason if policy is not None else None)
        if action is not _JIT and action is not _BACKGROUND_JIT:
            raise not_an_action(self.py_func.__qualname__, action)
        if record.failure is not None:  # compiling these types failed before
            return self._interpreter.run(self, record, call_args, record.failure)
        forbids = stance is not None and stance.forbids_compiles  # _jit raises
        if (action is _JIT and not self.background) or record.needs_values or forbids:
            why = decided_by(reason if policy is not None else None, action)
            log.decided(self, record.folded_types, action.name, why)
            return self._jit(record, args, call_args)
        queue, host = compiles.run_then_queue, self._compile_host
        return queue(self, self._interpreter, self._records, record, call_args, host)

    def _resolve(self, key: Any, args: tuple[Any, ...]) -> SignatureRecord:
        """Find the overload Numba would run for these types without compiling."""
        version = self._records.version
        stamp = self._disk.stamp()
        record = self._records.add(key)
        folded = record.folded_types = argtypes.folded_types(args)  # the key may be classes
        cres = self.overloads.get(folded)
        if cres is None and not self._numba_can_compile:
            if self._waiting:
                if self._waiting_served(_stance.current, record, folded):
                    return record  # unresolved: resolved again when it runs compiled
                self._compile_waiting(folded)
            cres = self.overloads.get(folded) or self._convert(folded)
        if cres is None and self._incoming.code:
            cres = self._install_shipped(folded)
        if cres is None:
            cres = self._load_from_disk(folded)
        if cres is None and self._incoming.failures:
            record.failure = record.failure or self._incoming.failures.get(folded)
        if cres is not None:
            record.entry, record.disk_stamp = cres.entry_point, None
        elif version == self._records.version:  # no overload came meanwhile
            record.disk_stamp = stamp
        return record

    def _waiting_served(self, stance: Any, record: SignatureRecord, folded: Any) -> bool:
        """Whether the calls of *record* run in the interpreter rather than
        wait for a declared signature to compile now: under ``interpret``
        (it compiles when they run compiled), or under ``background``, which
        queues its compile (once; if it failed, it compiles now and raises)."""
        if stance is None or self.why_compiled():
            return False
        if stance.interprets_all:
            return True
        if not stance.compiles_declared_in_background or record.failure is not None:
            return False
        if record.pending is not None:
            return True
        sig = self._waiting.chosen(self._tm, self.typingctx, self._declared or (), folded)
        if sig is not None:
            compiles.queue_declared(self._records, record, self._compile_host, sig)
        return sig is not None

    def _convert(self, folded: tuple[types.Type, ...]) -> Any:
        """With explicit signatures, the declared overload Numba's C dispatcher
        converts these types to, entered in the C table (``conversions``).  An
        ambiguous one raises as in Numba, or is a miss for the policy."""
        given = [c for k, c in self.overloads.items() if k in (self._declared or ())]
        fallback, raise_for = not self.targetoptions.get("nopython"), self.py_func
        cres = conversions.convert(
            self._tm, self.typingctx, given, folded, can_fallback=fallback,
            raise_for=raise_for if self.use_jit is None else None,
        )  # fmt: skip
        if cres is not None:
            self._table.add_conversion(folded, cres, self.overloads)
        return cres

    def _load_from_disk(self, folded: tuple[types.Type, ...]) -> Any:
        return self._disk.load(folded, self.overloads, self.targetctx, self._install_foreign)

    def _jit(self, record: Any, args: tuple[Any, ...], call_args: tuple[Any, ...]) -> Any:
        try:
            with permission.on_request(id(self)):
                entry = super()._compile_for_args(*args)
        except CompileForbidden:
            raise
        except Exception as exc:
            if self.on_compile_error is not _INTERPRETER:
                raise
            failure = interpreted.describe_failure(exc)
            if argtypes.folded_types(args, self.typeof_pyval) == record.folded_types:
                record.failure = failure  # else it failed for this value only (an int too big)
                log.interpreted_after_failure(self, record.folded_types, failure)
            return self._interpreter.run(self, record, call_args, failure)
        return self._run_compiled(entry, args)

    def _refuse(self, record: Any, args: tuple[Any, ...], reason: str | None) -> None:
        """``Action.RAISE_EXCEPTION``: Numba's error for these types (logged
        as a decision the first time)."""
        if not record.refused:
            record.refused = True
            why = decided_by(reason, _RAISE_EXCEPTION)
            log.decided(self, record.folded_types, _RAISE_EXCEPTION.name, why)
        self._explain_matching_error(*args)  # raises

    def _run_compiled(self, entry: Any, args: tuple[Any, ...]) -> Any:
        if _listeners.get(_JIT_EXECUTION):
            call_args = args if self._plain_args else self._interpreter.call_values(args)
            data = {"dispatcher": self, "args": call_args}
            return events.already_ran(events.run_with_event(_JIT_EXECUTION, data, entry, args))
        return entry

    def _account(
        self, learner: LearningPolicy | None, record: Any, call_args: Any
    ) -> Account | None:
        """The learning policy's account of these calls' types, opened once."""
        if learner is None:
            return None
        return record.account or self._interpreter.open_account(learner, self, record, call_args)

    def _interprets(self, stance: stances.Stance) -> bool:
        return stance.interprets_all and not self.why_compiled()

    def _compile_host(self) -> compiles.CompileHost:
        install, pipeline = partial(self._install_foreign, save=True), self._compiler.pipeline_class
        return compiles.CompileHost(self, pipeline, self._load_from_disk, install)

    # -- what users call -----------------------------------------------------

    def wait_compiled(self, timeout: float | None = None) -> bool:
        """Wait for this function's queued background compiles.

        Parameters
        ----------
        timeout : float, optional
            Seconds to wait at most; by default, as long as they take.

        Returns
        -------
        bool
            True once none is queued, False if *timeout* passed first.
        """
        return compiles.wait(self._records.pending(), timeout)

    def recompile(self) -> None:
        """Numba's ``recompile``, after the queued compiles (whose overloads would
        come after it) and without code a pickle brought (compile it here, now)."""
        self.wait_compiled()
        self._incoming.code.clear()
        super().recompile()

    def why_compiled(self) -> str | None:
        """Why no stance runs this function in the interpreter; None if they may."""
        return interpretable.why_not(self.py_func, self.targetoptions, _stance.interpret_fastmath)

    def interpreted_seconds(self) -> float | None:
        """Seconds of interpreted calls, as far as a learning policy timed them."""
        return interpreted.seconds(self._records)

    def accounts(self) -> list[Account]:
        """What a learning policy (``policies.adaptive()``, or the adaptive
        stance's) learned per argument-type signature: its accounts, in the
        order first seen."""
        return interpreted.accounts(self._records)

    def fallbacks(self) -> list[Fallback]:
        """The calls that ran in the interpreter.

        Returns
        -------
        list of Fallback
            Per argument-type signature and reason: the signature, the
            reason and how many calls.
        """
        return interpreted.fallbacks(self._records)
