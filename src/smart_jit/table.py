"""Numba's C overload table of each dispatcher, and event mode.

The C dispatcher runs a call itself when its table holds an entry for the
argument types.  A dispatcher's table holds its overloads and the
conversions to declared signatures it found on misses (``conversions``).

A matched call never leaves C, so it cannot fire ``jit_execution``, nor
run the Python function instead.  While some part of the package needs every
call in Python (``route_through_python``: the event while it has listeners,
the ``interpret`` stance), every table is kept empty: each call then misses,
and the miss path does what that part needs (event mode).  The switch walks
every live table under ``lock``, which also guards each change of a table;
it is taken inside Numba's compiler lock, never around it.
"""

from __future__ import annotations

import functools
import weakref
from typing import Any

from numba._dispatcher import Dispatcher as _CDispatcher
from numba.core.compiler_lock import global_compiler_lock

from . import events, forksafe

_insert = _CDispatcher._insert  # type: ignore[attr-defined]
_clear = _CDispatcher._clear  # type: ignore[attr-defined]

lock = forksafe.lock()
_event_mode = False  # == bool(_reasons), read on every table change
# Why every call is routed through Python now: one name per part that asks.
_reasons: set[str] = set()
# id -> a weak reference to each live table, whose callback removes it.  A
# plain dict, copied (one C call) before it is walked: the callback of a
# table dying with its dispatcher on another thread may run at any point of
# the walk, and a WeakSet's walk and its removal callback interleave.
_live: dict[int, weakref.ref[Table]] = {}


class Table:
    """The C overload table of one dispatcher (*owner*, held weakly: the
    dispatcher owns its table)."""

    __slots__ = ("_owner", "conversions", "__weakref__")

    def __init__(self, owner: Any) -> None:
        self._owner = weakref.ref(owner)
        # argument types -> the declared overload calls of them convert to
        self.conversions: dict[tuple[Any, ...], Any] = {}
        _live[id(self)] = weakref.ref(self, functools.partial(_forget_dead_dispatcher, id(self)))

    def add(self, argtypes: tuple[Any, ...], cres: Any) -> None:
        """Serve *argtypes* with the new overload *cres* (under ``lock``)."""
        replaced = self.conversions.pop(argtypes, None)
        if replaced is not None or _event_mode:
            self.refill()
        else:
            _insert(self._owner(), [a._code for a in argtypes], cres.entry_point, cres.objectmode)

    def add_conversion(self, argtypes: tuple[Any, ...], cres: Any, overloads: Any) -> None:
        """Serve *argtypes* with the declared overload *cres*, unless an
        overload of their own arrived meanwhile."""
        with global_compiler_lock, lock:
            if argtypes not in self.conversions and argtypes not in overloads:
                self.conversions[argtypes] = cres
                if not _event_mode:
                    codes = [a._code for a in argtypes]
                    _insert(self._owner(), codes, cres.entry_point, cres.objectmode)

    def refill(self) -> None:
        """Make the C table match the overloads and conversions (empty in
        event mode)."""
        owner = self._owner()
        if owner is None:
            return
        _clear(owner)
        if _event_mode:
            return
        for argtypes, cres in [*owner.overloads.items(), *self.conversions.items()]:
            _insert(owner, [a._code for a in argtypes], cres.entry_point, cres.objectmode)


def in_event_mode() -> bool:
    return _event_mode


def _forget_dead_dispatcher(key: int, _ref: Any) -> None:
    """The weak reference's callback: takes no lock (it runs wherever the
    dispatcher dies, a thread holding the table lock included)."""
    _live.pop(key, None)


def route_through_python(reason: str, active: bool) -> None:
    """Route every matched call through the miss path while any *reason* is
    active.  If a table cannot be refilled, every table is put back as it
    was and the error propagates (the reason is then not recorded)."""
    global _event_mode
    with lock:
        previous = set(_reasons)
        (_reasons.add if active else _reasons.discard)(reason)
        _event_mode = bool(_reasons)
        if _event_mode == bool(previous):
            return
        try:
            _refill_every_table()
        except BaseException:
            _reasons.clear()
            _reasons.update(previous)
            _event_mode = bool(previous)
            _refill_every_table(tolerant=True)
            raise


def set_event_mode(active: bool) -> None:
    """Route matched calls through Python while ``jit_execution`` has listeners."""
    route_through_python("jit_execution has listeners", active)


def owners() -> list[Any]:
    """Every live dispatcher that has a table."""
    found = (ref() for ref in _live.copy().values())
    return [owner for owner in (t._owner() for t in found if t is not None) if owner is not None]


def _refill_every_table(tolerant: bool = False) -> None:
    for ref in _live.copy().values():
        table = ref()
        if table is not None:
            try:
                table.refill()
            except Exception:
                if not tolerant:
                    raise
                # It stays partly empty: its misses still find their
                # overloads through the miss path.


events.watch_jit_listeners(set_event_mode)
if events.listening(events.JIT_EXECUTION):
    set_event_mode(True)
