"""What compiles cost in this process, and what a compile not run yet will cost.

Numba announces every compile with a ``numba:compile`` event, nested for the
callees a compile types (each compiles inside its caller's event).  One
listener, installed when this module is imported, records the top-level ones:
per dispatcher, the argument types, the seconds and whether it failed.  A
compile in the compile process is announced in this process (see
``compile_process.compile``), so it is recorded here too.

The listener is installed when ``smart_jit.policies`` is first imported
(``import smart_jit`` alone does not import it).

A function that has not compiled yet has no record; ``estimate`` then predicts
its cost from its bytecode.  Measured on Numba 0.68 (docs/guide/policies.md, "Choosing a
policy"): the cost is mostly the library functions it calls (``np.sort``
compiles a sort, ``np.sqrt`` on a scalar costs next to nothing), so the
prediction counts those, calibrated by what compiles in this process actually
cost against their own predictions.  The first compile in a process also pays
for Numba's lazy imports and target initialisation.
"""

from __future__ import annotations

import builtins
import dis
import sys
import threading
import time
import types as pytypes
import weakref
from typing import Any, NamedTuple

import numpy as np
from numba.core import event

from . import forksafe

# Seconds, fitted on Numba 0.68 (benchmarks/compile_costs.py: twenty kernels,
# least squares on log(predicted / actual)).  Ufuncs cost next to nothing.
BASE = 0.026
PER_INSTRUCTION = 0.0012
PER_LIBRARY_FUNCTION = 0.5
PER_METHOD = 0.3
PER_UFUNC = 0.0
PARALLEL = 0.28
FIRST_IN_PROCESS = 0.11  # Numba's lazy imports, measured by benchmarks/compile_costs.py

# Attributes of an array that are data, not methods that compile code.
_ARRAY_DATA = frozenset(
    {"shape", "size", "ndim", "dtype", "T", "real", "imag", "flat", "itemsize", "strides"}
)
_LOADS = frozenset({"LOAD_GLOBAL", "LOAD_DEREF", "LOAD_NAME"})
_ATTRIBUTES = frozenset({"LOAD_ATTR", "LOAD_METHOD"})


class Compile(NamedTuple):
    """One top-level compile that ran in this process."""

    argtypes: tuple[Any, ...]
    seconds: float
    failed: bool
    first_in_process: bool


class Features(NamedTuple):
    """What the bytecode of a function (and of the jitted functions it calls)
    says about its compile."""

    instructions: int
    library_functions: int  # np.sort, np.std: each compiles an implementation
    methods: int  # a.sum(), a.max(): array methods, the same
    ufuncs: int  # np.sqrt: cheap on scalars
    loops: int
    parallel: bool

    def predicted(self) -> float:
        """Seconds, uncalibrated, leaving out the first-compile cost."""
        return (
            BASE
            + PER_INSTRUCTION * self.instructions
            + PER_LIBRARY_FUNCTION * self.library_functions
            + PER_METHOD * self.methods
            + PER_UFUNC * self.ufuncs
            + (PARALLEL if self.parallel else 0.0)
        )

    def describe(self) -> str:
        parts = [f"{self.instructions} instructions"]
        for count, what in (
            (self.library_functions, "library function"),
            (self.methods, "array method"),
            (self.ufuncs, "ufunc"),
        ):
            if count:
                parts.append(f"{count} {what}{'s' if count > 1 else ''}")
        if self.parallel:
            parts.append("parallel=True")
        return ", ".join(parts)


class Estimate(NamedTuple):
    """A compile's cost in seconds, and what it is based on."""

    seconds: float
    basis: str


# -- the record ----------------------------------------------------------------

_lock = forksafe.lock()
_records: weakref.WeakKeyDictionary[Any, list[Compile]] = weakref.WeakKeyDictionary()
_ratios: list[float] = []  # actual / predicted, for compiles not first in the process
_compiled_before = False
_count = 0  # top-level compiles recorded, for estimates that depend on them
_depth = threading.local()


class _Recorder(event.Listener):  # type: ignore[misc]
    """Times top-level ``numba:compile`` events, per thread."""

    def on_start(self, ev: Any) -> None:
        depth = getattr(_depth, "n", 0)
        _depth.n = depth + 1
        if depth == 0:
            _depth.start = time.perf_counter()
            _depth.first = not has_compiled()

    def on_end(self, ev: Any) -> None:
        _depth.n -= 1
        if _depth.n == 0:
            seconds = time.perf_counter() - _depth.start
            try:
                _record(ev.data, seconds, failed(ev), _depth.first)
            except Exception:  # never let the record break the user's compile
                pass


def failed(ev: Any) -> bool:
    """Whether a compile's end event carries its exception.  Numba's
    ``Event.is_failed`` answers the opposite (``return self._exc_details is
    None`` in 0.59 to 0.68), so read what it reads; tests/test_compile_costs.py
    checks both outcomes."""
    return getattr(ev, "_exc_details", None) is not None


def _record(data: dict[str, Any], seconds: float, failed: bool, first: bool) -> None:
    global _compiled_before, _count
    dispatcher = data.get("dispatcher")
    # The compile process paid Numba's one-off costs before this compile.
    first = first and not data.get("compile_process", False)
    entry = Compile(tuple(data.get("args") or ()), seconds, failed, first)
    ratio = None
    if not failed and not first and dispatcher is not None:
        py_func = getattr(dispatcher, "py_func", None)
        if py_func is not None:
            ratio = seconds / features(py_func, _is_parallel(dispatcher)).predicted()
    with _lock:
        _compiled_before = True
        _count += 1
        if ratio is not None:
            _ratios.append(ratio)
        if dispatcher is not None:
            try:
                _records.setdefault(dispatcher, []).append(entry)
            except TypeError:  # not weakly referenceable: kept nowhere
                pass


def has_compiled() -> bool:
    """Whether this process has compiled anything yet (a forked child
    inherits its parent's answer).  Numba's first compile in a process
    imports its typing declarations (``Context.load_additional_registries``,
    0.59 to 0.68): their module tells a compile that ran before this module's
    listener did."""
    return _compiled_before or "numba.core.typing.arraydecl" in sys.modules


def compiles_of(dispatcher: Any) -> list[Compile]:
    """The top-level compiles of *dispatcher* in this process, oldest first."""
    with _lock:
        return list(_records.get(dispatcher, ()))


def generation() -> int:
    """Changes whenever a compile is recorded: estimates may have changed."""
    return _count


def calibration() -> tuple[float, int]:
    """The median of actual / predicted over this process's compiles (1.0
    without any), and how many it is based on."""
    with _lock:
        ratios = list(_ratios)
    return (_median(ratios) if ratios else 1.0), len(ratios)


# -- the estimate --------------------------------------------------------------


def own_seconds(compile_: Compile) -> float:
    """A compile's seconds without Numba's one-off costs, which a first
    compile in a process also paid."""
    if compile_.first_in_process:
        return max(compile_.seconds - FIRST_IN_PROCESS, compile_.seconds / 2)
    return compile_.seconds


def estimate(dispatcher: Any, earlier: tuple[float, int] | None = None) -> Estimate:
    """What compiling *dispatcher* for new argument types will cost: its
    compiles in this process, else *earlier* runs' (seconds, how many
    compiles; ``profiles``), else a prediction from its bytecode."""
    done = [c for c in compiles_of(dispatcher) if not c.failed]
    if done:
        seconds = _median([own_seconds(c) for c in done])
        return Estimate(seconds, f"measured: {len(done)} earlier compile(s) of this function")
    if earlier is not None:
        seconds, count = earlier
        basis = f"measured in earlier runs: median of {count} compile(s) of these types"
        if not has_compiled():
            seconds += FIRST_IN_PROCESS
            basis += ", first compile in this process"
        return Estimate(seconds, basis)
    found = features(dispatcher.py_func, _is_parallel(dispatcher))
    factor, based_on = calibration()
    seconds = found.predicted() * factor
    basis = f"predicted from bytecode ({found.describe()})"
    if based_on:
        basis += f", x{factor:.2f} from {based_on} compile(s) in this process"
    if not has_compiled():
        seconds += FIRST_IN_PROCESS * factor
        basis += ", first compile in this process"
    return Estimate(seconds, basis)


def _median(values: list[float]) -> float:
    # Imported here: only once this process has compiled is there a median.
    from statistics import median

    return median(values)


def _is_parallel(dispatcher: Any) -> bool:
    return bool(getattr(dispatcher, "targetoptions", {}).get("parallel"))


_features: weakref.WeakKeyDictionary[Any, Features] = weakref.WeakKeyDictionary()


def features(func: Any, parallel: bool = False) -> Features:
    """Count what the bytecode of *func* loads: library functions, array
    methods, ufuncs, jitted callees (counted in), loops.  The scan is
    memoized per function; *parallel* (an option, not bytecode) is applied
    to it on each call."""
    try:
        found = _features[func]
    except (KeyError, TypeError):
        try:
            found = _scan(func, False, set())
        except Exception:  # a global whose attributes raise: predict from nothing
            found = Features(0, 0, 0, 0, 0, False)
        try:
            _features[func] = found
        except TypeError:
            pass
    return found._replace(parallel=parallel) if parallel else found


def _scan(func: Any, parallel: bool, visited: set[int]) -> Features:
    visited.add(id(func))
    code = getattr(func, "__code__", None)
    if code is None:
        return Features(0, 0, 0, 0, 0, parallel)
    namespace = _Namespace(func)
    instructions = loops = 0
    library: set[int] = set()
    methods: set[str] = set()
    ufuncs: set[int] = set()
    callees: list[Any] = []
    current: Any = _NOTHING
    for ins in _instructions(code):
        instructions += 1
        if "BACKWARD" in ins.opname or ins.opname == "JUMP_ABSOLUTE":
            loops += 1
        if ins.opname in _LOADS:
            _classify(current, library, ufuncs, callees)
            current = namespace.get(ins.argval)
            continue
        if ins.opname in _ATTRIBUTES:
            if current is not _NOTHING:
                current = getattr(current, str(ins.argval), _NOTHING)
                continue
            if ins.argval not in _ARRAY_DATA:  # on a local or a result: a.sum()
                methods.add(str(ins.argval))
            continue
        _classify(current, library, ufuncs, callees)
        current = _NOTHING
    _classify(current, library, ufuncs, callees)
    total = Features(instructions, len(library), len(methods), len(ufuncs), loops, parallel)
    for callee in callees:
        if id(callee.py_func) not in visited:
            more = _scan(callee.py_func, False, visited)
            total = total._replace(
                instructions=total.instructions + more.instructions,
                library_functions=total.library_functions + more.library_functions,
                methods=total.methods + more.methods,
                ufuncs=total.ufuncs + more.ufuncs,
                loops=total.loops + more.loops,
            )
    return total


def _instructions(code: Any) -> Any:
    """The instructions of *code* and of the code it holds (comprehensions,
    inner functions and generator expressions are code objects of their own
    up to Python 3.11, and generator expressions still are)."""
    yield from dis.get_instructions(code)
    for const in code.co_consts:
        if isinstance(const, pytypes.CodeType):
            yield from _instructions(const)


_NOTHING = object()


def _classify(obj: Any, library: set[int], ufuncs: set[int], callees: list[Any]) -> None:
    if obj is _NOTHING or isinstance(obj, pytypes.ModuleType | type):
        return
    if isinstance(obj, np.ufunc):
        ufuncs.add(id(obj))
    elif hasattr(obj, "py_func") and hasattr(obj, "targetoptions"):  # a jitted callee
        callees.append(obj)
    elif isinstance(obj, pytypes.BuiltinFunctionType) or not callable(obj):
        return  # len, math.sqrt, a constant
    else:
        library.add(id(obj))


class _Namespace:
    """Globals, closure cells and builtins of a function, by name."""

    def __init__(self, func: Any) -> None:
        self.globals = getattr(func, "__globals__", {})
        cells = getattr(func, "__closure__", None) or ()
        names = func.__code__.co_freevars
        self.cells = dict(zip(names, cells, strict=False))

    def get(self, name: Any) -> Any:
        if name in self.cells:
            try:
                return self.cells[name].cell_contents
            except ValueError:  # an empty cell
                return _NOTHING
        if name in self.globals:
            return self.globals[name]
        return getattr(builtins, str(name), _NOTHING)


# A forked child keeps the records: same code, same machine.  No thread is
# inside a compile at a fork (the forking thread holds the compiler lock).
event.register("numba:compile", _Recorder())
