"""Execution events, broadcast through ``numba.core.event``.

Every call of a smart-jitted function is one execution of one kind:
``jit_execution`` (compiled code ran) or ``interpreter_execution`` (the Python
function ran).  Listeners are installed with Numba's own
``numba.core.event.install_listener``.

A matched call never leaves Numba's C dispatcher, so it cannot announce itself.
To keep that path free when nobody listens, the listener list for
``jit_execution`` is watched: while it is non-empty, dispatchers route matched
calls through Python (see ``table.set_event_mode``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from numba.core import event

from . import forksafe

#: The ``numba.core.event`` kind of a call that ran compiled code; its data is
#: ``{"dispatcher": f, "args": (...)}``.  Matched calls fire it only while a
#: listener for it is installed.
JIT_EXECUTION = "jit_execution"
#: The ``numba.core.event`` kind of a call that ran in the interpreter; its
#: data is ``{"dispatcher": f, "args": (...)}``.
INTERPRETER_EXECUTION = "interpreter_execution"

_registered = event._registered
# Numba's listener lists by kind, read on every miss (``listeners.get(kind)``
# is one C call where ``listening`` is a Python call).
listeners: dict[str, list[Any]] = _registered
_start_event = event.start_event
_end_event = event.end_event
_jit_listener_watchers: list[Callable[[bool], None]] = []
# A change to the list and the watchers' response to it are one step: a fork
# between them would leave a child with listeners but without event mode.
_watch_lock = forksafe.lock()


class _WatchedListeners(list):  # type: ignore[type-arg]
    """Numba's listener list for one kind, reporting when it fills or empties.

    ``numba.core.event.register``/``unregister`` only ``append``/``remove``.
    """

    def append(self, listener: Any) -> None:
        with _watch_lock:
            super().append(listener)
            if len(self) == 1:
                try:
                    _notify(True)
                except BaseException:  # not installed: nothing of it stays behind
                    super().remove(listener)
                    raise

    def remove(self, listener: Any) -> None:
        with _watch_lock:
            super().remove(listener)
            if not self:
                _notify(False)


def _notify(active: bool) -> None:
    for watcher in list(_jit_listener_watchers):
        watcher(active)


def watch_jit_listeners(callback: Callable[[bool], None]) -> None:
    """Call *callback(active)* whenever ``jit_execution`` gains its first
    listener or loses its last."""
    _jit_listener_watchers.append(callback)


def _install_watch() -> None:
    current = _registered.get(JIT_EXECUTION)
    if not isinstance(current, _WatchedListeners):
        _registered[JIT_EXECUTION] = _WatchedListeners(current or ())


def listening(kind: str) -> bool:
    """Whether a listener for *kind* is installed."""
    return bool(_registered.get(kind))


def already_ran(value: Any) -> Callable[..., Any]:
    """What the miss path returns for a call it ran itself: the C dispatcher
    calls what the miss path returns, and this hands back the result."""
    return lambda *_: value


def run_with_event(kind: str, data: Any, func: Callable[..., Any], args: tuple[Any, ...]) -> Any:
    """Run ``func(*args)`` between a start and an end event of *kind*."""
    _start_event(kind, data)
    try:
        result = func(*args)
    except BaseException as exc:
        _end_event(kind, data, (type(exc), exc, exc.__traceback__))
        raise
    _end_event(kind, data)
    return result


_install_watch()
