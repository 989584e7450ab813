"""``install``: every ``numba.jit`` and ``numba.njit`` decorated from now on
makes a ``SmartDispatcher``, in the program and in the libraries it imports.

What is handed back to Numba unchanged: other targets (``_target``),
``forceobj``, functions defined in Numba and decorations Numba makes itself
(``numba.typed``'s helpers, ``jitclass`` methods, overload implementations:
they are Numba's machinery, not the program's).  ``vectorize``,
``guvectorize``, ``cfunc``, ``stencil`` and ``jitclass`` are not replaced;
calls between them and smart-jitted functions go through Numba's typing,
which takes a ``SmartDispatcher`` as any dispatcher.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Callable
from typing import Any

import numba
import numba.core.decorators as numba_decorators
from numba.core import sigutils
from numba.core.dispatcher import Dispatcher
from numba.core.errors import NumbaWarning

from . import compile_costs, decorators, interpretable, stances
from .dispatcher import SmartDispatcher
from .errors import warn_caller

_PATCHED = ((numba, "jit"), (numba, "njit"), (numba_decorators, "jit"), (numba_decorators, "njit"))
_originals: dict[tuple[Any, str], Any] = {}
_options = {"lazy": True}


def install(stance: str | None = None, *, lazy: bool = True, warn: bool = True) -> list[str]:
    """Make ``numba.jit`` and ``numba.njit`` (and their ``numba.core.decorators``
    spellings) smart_jit's, for every function decorated after this call.

    What ``python -m smart_jit run`` does before the program starts.
    Numba's own decorations, other targets and ``forceobj`` stay Numba's.

    Parameters
    ----------
    stance : str, optional
        Switch to this stance as well (:class:`~smart_jit.set_stance`).
    lazy : bool, default True
        Explicit signatures compile when first needed, not at decoration.
    warn : bool, default True
        Warn (``NumbaWarning``) naming the modules whose functions were
        jitted before this call.

    Returns
    -------
    list of str
        The modules whose functions were jitted before, and stay Numba's.
    """
    if stance is not None:
        stances.set_stance(stance)
    _options["lazy"] = bool(lazy)
    compile_costs.has_compiled()  # imported: compiles are timed for the report from now on
    if not _originals:
        for module, name in _PATCHED:
            _originals[module, name] = getattr(module, name)
        replacements = {"jit": _replacement(_originals[numba, "jit"], nopython=None)}
        replacements["njit"] = _replacement(_originals[numba, "njit"], nopython=True)
        for module, name in _PATCHED:
            setattr(module, name, replacements[name])
    before = decorated_before()
    if before and warn:
        warn_caller(
            f"smart_jit.install: functions in {', '.join(before)} were jitted before "
            "install and stay Numba's",
            NumbaWarning,
        )
    return before


def uninstall() -> None:
    """Give ``numba.jit`` and ``numba.njit`` back to Numba.

    Functions decorated meanwhile stay smart-jitted.
    """
    for (module, name), original in _originals.items():
        setattr(module, name, original)
    _originals.clear()


def installed() -> bool:
    return bool(_originals)


def decorated_before() -> list[str]:
    """The modules (outside Numba) holding functions Numba jitted itself."""
    found = set()
    for name, module in list(sys.modules.items()):
        if not isinstance(module, types.ModuleType) or interpretable.is_numbas(module):
            continue
        try:
            values = list(vars(module).values())
        except TypeError:
            continue
        if any(isinstance(v, Dispatcher) and not isinstance(v, SmartDispatcher) for v in values):
            found.add(name)
    return sorted(found)


def _replacement(numba_jit: Callable[..., Any], nopython: bool | None) -> Callable[..., Any]:
    def jit(
        signature_or_function: Any = None,
        locals: Any = None,
        cache: bool = False,
        pipeline_class: Any = None,
        boundscheck: Any = None,
        **options: Any,
    ) -> Any:
        numba_options = dict(options, cache=cache, boundscheck=boundscheck)
        if locals is not None:
            numba_options["locals"] = locals
        if pipeline_class is not None:
            numba_options["pipeline_class"] = pipeline_class
        if _numbas_own(sys._getframe(1), options):
            return numba_jit(signature_or_function, **numba_options)
        if nopython is not None:
            options.pop("forceobj", None)  # (False here: forceobj=True went to Numba above)
            options["nopython"] = nopython
        smart_options = dict(options, cache=cache, boundscheck=boundscheck, lazy=_options["lazy"])
        smart_options.update(locals=dict(locals or {}), pipeline_class=pipeline_class)

        def decorate(func: Any) -> Any:
            if interpretable.is_numbas(func) or not isinstance(func, types.FunctionType):
                return numba_jit(sigs, **numba_options)(func)  # Numba's errors, Numba's way
            return decorators.jit(sigs, **smart_options)(func)

        if signature_or_function is None or _is_signatures(signature_or_function):
            sigs = signature_or_function
            return decorate
        sigs = None
        return decorate(signature_or_function)

    jit.__doc__ = numba_jit.__doc__
    jit.__wrapped__ = numba_jit  # type: ignore[attr-defined]
    return jit


def _is_signatures(value: Any) -> bool:
    return isinstance(value, list) or sigutils.is_signature(value)


def _numbas_own(caller: Any, options: dict[str, Any]) -> bool:
    """Decorations smart_jit leaves to Numba: another target, object mode,
    or Numba decorating for itself."""
    if options.get("_target", "cpu") != "cpu" or options.get("forceobj"):
        return True
    module = caller.f_globals.get("__name__", "")
    return bool(module == "numba" or module.startswith("numba."))
