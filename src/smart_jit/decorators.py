"""``jit``: ``numba.jit`` plus a per-call policy for calls no overload matches."""

from __future__ import annotations

import functools
import inspect
import itertools
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ParamSpec, Protocol, TypeAlias, TypeVar, overload

from numba.core import compiler, config, extending, sigutils, typeinfer
from numba.core.errors import NumbaDeprecationWarning

from . import events
from .action import Action
from .argtypes import typeof_arg
from .dispatcher import SmartDispatcher
from .errors import warn_caller
from .interpreted import REASON_DISABLED, Fallback, count_of

if TYPE_CHECKING:  # for type checkers only: creating Protocols costs import time
    from numba.core.typing.templates import Signature

    P = ParamSpec("P")
    R = TypeVar("R")
    R_co = TypeVar("R_co", covariant=True)
    Signatures: TypeAlias = "str | list[Any] | Signature | None"

    class SmartFunction(Protocol[P, R_co]):
        """What type checkers see of a smart-jitted function: its own signature,
        plus the dispatcher attributes people use."""

        @property
        def py_func(self) -> Callable[P, R_co]: ...
        @property
        def signatures(self) -> list[Any]: ...
        def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R_co: ...
        def fallbacks(self) -> list[Fallback]: ...
        def wait_compiled(self, timeout: float | None = None) -> bool: ...


@overload
def jit(signature_or_function: Callable[P, R], **options: Any) -> SmartFunction[P, R]: ...
@overload
def jit(
    signature_or_function: Signatures = None, **options: Any
) -> Callable[[Callable[P, R]], SmartFunction[P, R]]: ...


def jit(
    signature_or_function: Any = None,
    *,
    use_jit: Callable[..., Action] | None = None,
    warn_on_fallback: bool = False,
    on_compile_error: Action | None = None,
    background: bool = False,
    lazy: bool = False,
    locals: dict[str, Any] | None = None,
    cache: bool = False,
    pipeline_class: type | None = None,
    boundscheck: bool | None = None,
    **options: Any,
) -> Any:
    """``numba.jit`` with a per-call policy for calls no compiled overload matches.

    Used as ``numba.jit`` is: ``@jit``, ``@jit(...)``, ``@jit("sig")``,
    ``@jit([sigs], ...)`` or ``jit(...)(func)``.  A call whose argument types
    match a compiled overload runs it in Numba's C dispatcher and never asks
    the policy.  A call that matches none asks ``use_jit``.

    Parameters
    ----------
    signature_or_function : function, str, Signature or list, optional
        The function to compile, or explicit signatures compiled ahead of time
        (then the decorator is returned), as for ``numba.jit``.
    use_jit : callable, optional
        The policy.  Called as ``use_jit(*values)`` on each call no compiled
        overload matches, with one positional value per parameter of the
        function, in order: keyword arguments moved to their positions,
        omitted defaults filled in, a ``*args`` parameter expanded.  It must
        return an :class:`Action`: ``Action.JIT`` (compile these types and
        run compiled), ``Action.INTERPRETER`` (run the Python function),
        ``Action.RAISE_EXCEPTION`` (Numba's ``TypeError: No matching
        definition``) or ``Action.BACKGROUND_JIT`` (run the Python function
        now, compile these types off the serving thread).  Anything else is
        a ``TypeError`` naming the function and the value.  It may run on
        several threads at once.  ``None`` (the default) behaves exactly as
        ``numba.jit``.  The ready-made policies are in
        :mod:`smart_jit.policies`.
    warn_on_fallback : bool, default False
        Warn ``NumbaInterpreterModeWarning`` on each call that runs in the
        interpreter, naming the function, the argument types and the reason.
    on_compile_error : Action or None, default None
        ``Action.INTERPRETER``: when compiling fails, run the call in the
        interpreter and never retry those types.  ``None``: Numba's error
        propagates.  ``Action.RAISE_EXCEPTION`` is accepted and means the
        same as ``None``.
    background : bool, default False
        Every ``Action.JIT`` decision becomes ``Action.BACKGROUND_JIT``;
        without a ``use_jit``, a Numba that never blocks on the compiler.
    lazy : bool, default False
        Explicit signatures compile when a call (or a caller's compile) first
        needs one, not at decoration; dispatch among them is Numba's.
        Errors in them surface at first use, and ``signatures`` lists the
        compiled ones.  Object mode (``forceobj``) compiles them at once.
    locals, cache, pipeline_class, boundscheck, **options
        Numba's options (``nopython``, ``forceobj``, ``parallel``,
        ``fastmath``, ``nogil``, ``error_model``, ...), passed to Numba; an
        option Numba does not know is a ``TypeError`` here.

    Returns
    -------
    SmartDispatcher or callable
        The dispatcher (a Numba ``CPUDispatcher``), or a decorator that
        makes one when given signatures or options only.

    Raises
    ------
    TypeError
        At decoration: an unknown option, a ``use_jit`` that cannot take one
        value per parameter, a policy given where it is not callable.

    Examples
    --------
    >>> from smart_jit import Action, jit
    >>> @jit(use_jit=lambda a: Action.JIT if a > 100 else Action.INTERPRETER)
    ... def double(a):
    ...     return 2 * a
    >>> double(3), double.signatures
    (6, [])
    """
    if signature_or_function is None:
        sigs = None
    elif isinstance(signature_or_function, list):
        sigs = signature_or_function
    elif sigutils.is_signature(signature_or_function):
        sigs = [signature_or_function]
    else:
        sigs = None
    targetoptions = _numba_options(boundscheck, options)
    policy: dict[str, Any] = dict(
        use_jit=use_jit,
        warn_on_fallback=warn_on_fallback,
        on_compile_error=on_compile_error,
        background=background,
    )
    if type(lazy) is not bool:
        raise TypeError(f"lazy must be a bool, got {lazy!r}")

    def decorate(func: Callable[..., Any]) -> Any:
        _check(func, targetoptions, policy)
        if config.DISABLE_JIT:
            return _python_only(func)
        disp = SmartDispatcher(
            func, dict(locals or {}), targetoptions, pipeline_class or compiler.Compiler, **policy
        )
        if cache:
            disp.enable_caching()
        if sigs is not None and lazy and targetoptions["nopython"]:
            disp.declare(sigs)
        elif sigs is not None:
            with typeinfer.register_dispatcher(disp):
                for sig in sigs:
                    disp.compile(sig)
            disp.disable_compile()
        return disp

    if signature_or_function is None or sigs is not None:
        return decorate
    return decorate(signature_or_function)


def njit(*args: Any, **kws: Any) -> Any:
    """:func:`jit` in nopython mode, as ``numba.njit``.

    Takes what :func:`jit` takes; ``nopython`` and ``forceobj`` are ignored
    with a ``RuntimeWarning``, as in Numba.
    """
    if "nopython" in kws:
        warnings.warn("nopython is set for njit and is ignored", RuntimeWarning, stacklevel=2)
    if kws.pop("forceobj", None) is not None:
        warnings.warn("forceobj is set for njit and is ignored", RuntimeWarning, stacklevel=2)
    kws["nopython"] = True
    return jit(*args, **kws)


smart_jit = jit


def _numba_options(boundscheck: bool | None, options: dict[str, Any]) -> dict[str, Any]:
    """``numba.jit``'s defaults: nopython unless ``forceobj``."""
    options = dict(options)
    options.pop("_target", None)
    forceobj = options.get("forceobj", False)
    nopython = options.get("nopython")
    if nopython is not None and type(nopython) is not bool:
        raise TypeError(f"nopython must be a bool, got {nopython!r}")
    if nopython is True and forceobj:
        raise ValueError("Only one of 'nopython' or 'forceobj' can be True.")
    if nopython is False:
        warn_caller(
            "The keyword argument 'nopython=False' was supplied. From Numba 0.59.0 "
            "the default is True and supplying this argument has no effect.",
            NumbaDeprecationWarning,
        )
    options["nopython"] = not forceobj
    options["boundscheck"] = boundscheck
    return options


def _check(func: Any, targetoptions: dict[str, Any], policy: dict[str, Any]) -> None:
    """Refuse bad decorator input now, naming the function, not at its first call."""
    if extending.is_jitted(func):
        # Numba's own words first: code (and Numba's tests) match on them.
        raise TypeError(
            "A jit decorator was called on an already jitted function "
            f"{func}.  If trying to access the original python "
            f"function, use the {func}.py_func attribute.  "
            f"(smart_jit: decorate {func.py_func.__qualname__}.py_func instead.)"
        )
    if not inspect.isfunction(func):
        raise TypeError(
            f"The decorated object is not a function (got type {type(func)}).  "
            f"(smart_jit: jit can only decorate a Python function, not {func!r}.)"
        )
    name = func.__qualname__
    use_jit = policy["use_jit"]
    if use_jit is not None:
        if not callable(use_jit):
            raise TypeError(f"use_jit of {name} must be callable, got {use_jit!r}")
        if isinstance(use_jit, type) and use_jit.__module__.startswith("smart_jit."):
            # A ready-made policy is a class: its instance is the policy.
            raise TypeError(
                f"use_jit of {name} is the policy class {use_jit.__name__}, not a policy: "
                f"did you mean {use_jit.__name__}()?"
            )
        _check_parameters(name, func, use_jit)
    for option in ("warn_on_fallback", "background"):
        if type(policy[option]) is not bool:
            raise TypeError(f"{option} of {name} must be a bool, got {policy[option]!r}")
    on_compile_error = policy["on_compile_error"]
    if on_compile_error not in (None, Action.INTERPRETER, Action.RAISE_EXCEPTION):
        raise TypeError(
            f"on_compile_error of {name} must be Action.INTERPRETER or "
            f"Action.RAISE_EXCEPTION, got {on_compile_error!r}"
        )
    try:
        SmartDispatcher.targetdescr.options.parse_as_flags(compiler.Flags(), targetoptions)
    except KeyError as exc:
        raise TypeError(f"jit of {name}: {exc.args[0]}") from None


def _check_parameters(name: str, func: Callable[..., Any], use_jit: Callable[..., Any]) -> None:
    """``use_jit`` is called with one value per parameter of *func*, and with
    any number more when *func* takes ``*args``; a ready-made policy also
    checks that the argument it looks at exists."""
    params = inspect.signature(func).parameters.values()
    keyword_only = [p.name for p in params if p.kind in (p.KEYWORD_ONLY, p.VAR_KEYWORD)]
    if keyword_only:
        raise TypeError(
            f"jit of {name}: keyword-only parameters and **kwargs are not supported "
            f"(as in Numba): {', '.join(keyword_only)}"
        )
    count = sum(p.kind is not p.VAR_POSITIONAL for p in params)
    star = len(params) > count
    check_policy = getattr(use_jit, "check_parameters", None)
    problem = check_policy(count, star) if callable(check_policy) else None
    if problem is not None:
        raise TypeError(f"use_jit of {name}: {problem}")
    try:
        policy_sig = inspect.signature(use_jit)
    except (TypeError, ValueError):  # builtins without a signature
        return
    try:
        policy_sig.bind(*range(count))
    except TypeError as exc:
        raise TypeError(
            f"use_jit {use_jit!r} of {name} cannot take the {count} "
            f"argument(s) it will be called with: {exc}"
        ) from None
    if star and not any(p.kind is p.VAR_POSITIONAL for p in policy_sig.parameters.values()):
        raise TypeError(
            f"use_jit {use_jit!r} of {name} must take *args: {name} has a *args "
            "parameter, whose values the policy receives as separate arguments"
        )


def _python_only(func: Callable[..., Any]) -> Callable[..., Any]:
    """Under ``NUMBA_DISABLE_JIT`` Numba returns the plain function; so do we,
    wrapped only to announce and count the calls as interpreted.

    Calls are keyed as in JIT mode: by the types of the values the policy
    would get (defaults filled in, ``*args`` expanded), so ``f(1)`` and
    ``f(1, 10)`` of ``def f(a, b=10)`` are one signature."""
    counters: dict[tuple[Any, ...], itertools.count[int]] = {}
    pysig = inspect.signature(func)
    star = next((p.name for p in pysig.parameters.values() if p.kind is p.VAR_POSITIONAL), None)

    def values_of(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
        """What the policy would get in JIT mode (and what events carry there)."""
        try:
            bound = pysig.bind(*args, **kwargs)
        except TypeError:  # the call itself will say what is wrong
            return (*args, *kwargs.values())
        bound.apply_defaults()
        names = list(bound.arguments)
        values = list(bound.arguments.values())
        if star is not None:  # expanded where it stands (keyword-only ones may follow)
            at = names.index(star)
            values[at : at + 1] = bound.arguments[star]
        return tuple(values)

    @functools.wraps(func)
    def interpreted(*args: Any, **kwargs: Any) -> Any:
        values = values_of(args, kwargs)
        signature = tuple(map(typeof_arg, values))
        next(counters.get(signature) or counters.setdefault(signature, itertools.count()))
        if events.listening(events.INTERPRETER_EXECUTION):
            data = {"dispatcher": interpreted, "args": values}
            return events.run_with_event(
                events.INTERPRETER_EXECUTION, data, functools.partial(func, **kwargs), args
            )
        return func(*args, **kwargs)

    def fallbacks() -> list[Fallback]:
        return [
            Fallback(signature, REASON_DISABLED, count_of(counter))
            for signature, counter in list(counters.items())
        ]

    interpreted.py_func = func  # type: ignore[attr-defined]
    interpreted.signatures = []  # type: ignore[attr-defined]
    interpreted.wait_compiled = lambda timeout=None: True  # type: ignore[attr-defined]
    interpreted.fallbacks = fallbacks  # type: ignore[attr-defined]
    return interpreted
