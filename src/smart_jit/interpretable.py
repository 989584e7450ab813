"""Whether the Python function of a jitted function computes what its
compiled code computes: the rule a stance asks before it interprets calls.

A stance (``interpret``, ``adaptive``, ``background``) never gives another
answer than Numba's, so it interprets only functions whose code reaches
nothing that means something else in Python.  ``why_not`` reads that from
the function's code once: the names its bytecode loads (globals, closure
values, attributes of the modules it names), through the jitted functions
it calls, against Numba's registries.  A function is refused when it

- uses ``fastmath`` (compiled reassociation and Python's IEEE rules differ
  on infinities and NaN), unless the caller says fastmath is fine;
- uses ``error_model="numpy"`` (a division by zero gives inf or NaN
  compiled, and raises in Python);
- is Numba's own (``numba.typed``'s jitted helpers recurse forever in Python);
- calls an intrinsic, a ``cfunc`` or another first-class function object
  (Python cannot call them, or they have no Python meaning);
- calls a function with an ``@overload`` written outside Numba (its Python
  body is a stub, or returns another type than the overload);
- calls a jitted function refused for one of these reasons.

Numba's own overloads (NumPy's functions, ``register_jitable``) are taken to
agree with Python, as Numba's tests check them against it.
"""

from __future__ import annotations

import types
import weakref
from collections.abc import Callable, Iterator
from typing import Any

from numba.core import ccallback, extending
from numba.core.types.function_type import WrapperAddressProtocol
from numba.core.typing.templates import builtin_registry

from . import forksafe

_lock = forksafe.lock()
_answers: weakref.WeakKeyDictionary[Any, str | None] = weakref.WeakKeyDictionary()
# id of a Python function -> the module of an @overload of it written outside
# Numba; read incrementally from Numba's registry, which only grows.
_foreign_overloads: dict[int, str] = {}
_registry_read = 0
_MODULE_DEPTH = 3  # np.linalg.solve: attributes of modules named, three deep


def why_not(
    py_func: Callable[..., Any], targetoptions: dict[str, Any], fastmath: bool
) -> str | None:
    """Why calls of this jitted function must not run in the interpreter, or
    None when they may.  *fastmath*: interpret ``fastmath`` functions too."""
    if targetoptions.get("fastmath") and not fastmath:
        return "it uses fastmath, which the interpreter does not reproduce"
    if targetoptions.get("error_model") == "numpy":
        return "it uses error_model='numpy': compiled, a division by zero gives inf or NaN"
    with _lock:
        _read_registry()
        return _answer(py_func, set())


def is_numbas(obj: Any) -> bool:
    """Whether *obj* (a function, or a module) is defined in Numba."""
    module = obj.__name__ if isinstance(obj, types.ModuleType) else getattr(obj, "__module__", "")
    return module == "numba" or str(module).startswith("numba.")


def _read_registry() -> None:
    global _registry_read
    entries = builtin_registry.globals
    for value, typ in entries[_registry_read:]:
        for template in getattr(typ, "templates", ()):
            impl = getattr(template, "_overload_func", None)
            if impl is not None and not is_numbas(impl):
                _foreign_overloads.setdefault(id(value), impl.__module__)
    _registry_read = len(entries)


def _answer(py_func: Any, visiting: set[int]) -> str | None:
    try:
        return _answers[py_func]
    except (KeyError, TypeError):
        pass
    visiting.add(id(py_func))
    answer = _scan(py_func, visiting)
    try:
        _answers[py_func] = answer
    except TypeError:  # not weakly referenceable: asked again next time
        pass
    return answer


def _scan(py_func: Any, visiting: set[int]) -> str | None:
    if is_numbas(py_func):
        return "it is Numba's own"
    for name, value in _reached(py_func):
        reason = _refuses(name, value, visiting)
        if reason is not None:
            return reason
    return None


def _refuses(name: str, value: Any, visiting: set[int]) -> str | None:
    if isinstance(value, extending._Intrinsic):
        return f"it calls the intrinsic {name}, which has no Python meaning"
    if isinstance(value, ccallback.CFunc | WrapperAddressProtocol):
        return f"it calls the first-class function {name}, which Python cannot call"
    try:
        module = _foreign_overloads.get(id(value))
    except TypeError:
        module = None
    if module is not None:
        return f"it calls {name}, whose compiled meaning is an @overload in {module}"
    callee = getattr(value, "py_func", None)
    if extending.is_jitted(value) and callee is not None and id(callee) not in visiting:
        inner = _answer(callee, visiting)
        if inner is not None:
            return f"it calls {name}, which cannot be interpreted: {inner}"
    return None


def _reached(py_func: Any) -> Iterator[tuple[str, Any]]:
    """(name, value) of what the code loads: globals, closure values and the
    attributes of the modules among them that the code names."""
    code = getattr(py_func, "__code__", None)
    if code is None:
        return
    names = set(_names(code))
    namespace = getattr(py_func, "__globals__", {})
    found = [(n, namespace[n]) for n in names if n in namespace]
    cells = zip(code.co_freevars, getattr(py_func, "__closure__", None) or (), strict=False)
    for name, cell in cells:
        try:
            found.append((name, cell.cell_contents))
        except ValueError:  # an empty cell
            pass
    yield from found
    modules = [(n, v) for n, v in found if isinstance(v, types.ModuleType)]
    for _ in range(_MODULE_DEPTH):
        deeper = []
        for prefix, module in modules:
            if is_numbas(module):
                continue
            for name in names:
                value = getattr(module, name, None)
                if value is not None:
                    yield f"{prefix}.{name}", value
                    if isinstance(value, types.ModuleType):
                        deeper.append((f"{prefix}.{name}", value))
        modules = deeper


def _names(code: types.CodeType) -> Iterator[str]:
    yield from code.co_names
    for const in code.co_consts:
        if isinstance(const, types.CodeType):  # a nested function or comprehension
            yield from _names(const)
