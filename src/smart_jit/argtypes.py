"""The Numba type of a call's argument, as Numba's C dispatcher sees it.

Numba's C dispatcher types a Python ``int`` as ``intp`` whatever its size (a
value too large then fails to convert when the compiled code is called), and
asks the dispatcher's ``typeof_pyval`` for every value it cannot fingerprint
(a ``str``, a ``dict``, an object, a tuple holding a ``str``), on every call,
matched or not.  There a value Numba cannot type is ``pyobject``.

Typing such a value is slow: a ``str`` goes through ``singledispatch`` (about
2.5 us), an object Numba cannot type raises and catches two exceptions.  So
the type of a class whose every instance has the same Numba type is
remembered per class (``numba_typeof``):

- ``str``, ``bytes``, ``bytearray`` (exactly those classes);
- a class Numba knows nothing of: no ``typeof_impl`` for it or a base, no
  buffer protocol, no ``_numba_type_`` on the class; its instances are
  ``pyobject``, unless an instance carries ``_numba_type_`` of its own.

A class that answers for itself (Numba's generic ``typeof_impl``, no buffer,
a ``_numba_type_`` on the class, as ``numba.typed.List`` and ``Dict``, jitclass
and structref instances have): Numba's answer is the instance's
``_numba_type_``, so that attribute is read without the rest of Numba's
typing (a failed ``memoryview``: an exception).

An ``ndarray`` (exactly that class) whose dtype has no fields: Numba's type
is decided by its dtype, number of dimensions and flags (contiguity,
writeable), so it is remembered under those (the last ``ARRAYS_REMEMBERED``
kinds).  The C dispatcher fingerprints numeric arrays itself; this serves
the others (unicode, bytes, datetime with a unit) on each of their typings.

A ``tuple`` (exactly that class) is typed as Numba's ``typeof_impl`` for
tuples does: each item by Numba's ``typeof_impl``, then the tuple type for
those item types, which is remembered under their type codes (unique for a
process's life): building a tuple type is most of Numba's cost.

A tuple whose items are immutable all the way down (numbers, strings, bytes,
None, such tuples) has one type for its whole life: it is remembered by
identity, holding the tuple alive so that its ``id`` is not reused (the last
``TUPLES_REMEMBERED`` of them).  That serves the second typing of a call's
tuple (the C dispatcher's, then the miss path's) and every call passing the
same tuple.  Anything else whose type depends on the value (ints, lists, sets,
records, structured arrays, enums) is typed afresh by each caller.

Nothing else is kept: no argument outlives its call because of this module
(Numba's own tests check reference counts), except the remembered tuples
(an array's kind is kept, not the array).  A
``typeof_impl`` registered later (``numba.extending.typeof_impl.register``)
empties the memo, so it is honoured from the next call on.
"""

from __future__ import annotations

import functools
import weakref
from typing import Any

import numpy as np
from numba._dispatcher import compute_fingerprint
from numba.core import types
from numba.core.dispatcher import OmittedArg
from numba.core.errors import NumbaValueError
from numba.core.types import Omitted  # type: ignore[attr-defined]
from numba.core.typing.typeof import Purpose, _TypeofContext, typeof, typeof_impl

_intp = types.intp
_pyobject = types.pyobject
_argument = Purpose.argument
_argument_context = _TypeofContext(_argument)  # what typeof() hands typeof_impl
registry = typeof_impl.registry
_generic_impl = typeof_impl.dispatch(object)
_numba_tuple_impl = typeof_impl.dispatch(tuple)
_FIXED_CLASSES = (str, bytes, bytearray)

_IMMUTABLE_LEAVES = (str, bytes, int, float, complex, bool, type(None))
# Classes the C dispatcher fingerprints and the class memo never holds: the
# miss path does not look them up there.
FINGERPRINTED = frozenset({int, float, complex, bool, np.ndarray})
TUPLES_REMEMBERED = 64
ARRAYS_REMEMBERED = 256
TUPLE_TYPES_REMEMBERED = 1024

# The Numba type of all instances of a class, keyed by the class's id: a
# class made by a class statement or type() is watched, and its entries go
# when it dies (a weak reference's callback, which runs before its id can be
# another's), so that the memo keeps no class alive; a static type (str,
# dict, object) never dies.  Valid while the registry is unchanged.
by_class: dict[int, Any] = {}
_watched: dict[int, weakref.ref[type]] = {}  # id -> the (heap) class, weakly
_HEAP_TYPE = 1 << 9  # Py_TPFLAGS_HEAPTYPE
_tuples: dict[int, tuple[tuple[Any, ...], Any]] = {}  # id -> (the tuple, its type)
_own_attribute: set[int] = set()  # ids of classes whose instances answer by _numba_type_
_arrays: dict[tuple[Any, int, int], Any] = {}  # (dtype, ndim, flags) -> the type
_tuple_types: dict[tuple[int, ...], Any] = {}  # the items' type codes -> the tuple type
registry_size = len(registry)  # while it is unchanged, the memo holds


def typeof_arg(value: Any) -> Any:
    """The Numba type the C dispatcher gives *value*; never raises."""
    if type(value) is int:
        return _intp
    return numba_typeof(value)


def numba_typeof(value: Any) -> Any:
    """What ``Dispatcher.typeof_pyval`` answers for *value*, remembered per
    class where the class decides it; never raises."""
    global registry_size
    cls = type(value)
    if len(registry) != registry_size:  # a typeof_impl was registered: start afresh
        by_class.clear()
        _watched.clear()
        _tuples.clear()
        _own_attribute.clear()
        _arrays.clear()
        registry_size = len(registry)
    else:
        known = by_class.get(id(cls))
        if known is not None:
            if known is not _pyobject or not carries_own_type(cls, value):
                return known
        elif cls is tuple:
            seen = _tuples.get(id(value))
            if seen is not None and seen[0] is value:
                return seen[1]
        elif cls is np.ndarray:
            array_kind = (value.dtype, value.ndim, value.flags.num)
            known = _arrays.get(array_kind)
            if known is not None:
                return known
        elif id(cls) in _own_attribute:
            # What Numba's generic typeof_impl answers for such a class (an
            # exception raised by the attribute propagates, as it does there).
            known = getattr(value, "_numba_type_", None)
            return _pyobject if known is None else known
    try:
        if cls is tuple and registry.get(tuple) is _numba_tuple_impl:
            numba_type = _tuple_type(value)
        else:
            numba_type = typeof(value, _argument)
    except (NumbaValueError, ValueError):
        numba_type = _pyobject
    if numba_type is None:  # (not `or`: the empty tuple's type, Tuple(()), is falsy)
        numba_type = _pyobject
    if len(registry) != registry_size:  # registered meanwhile: remember nothing now
        return numba_type
    if cls in _FIXED_CLASSES:
        by_class[id(cls)] = numba_type
    elif cls is tuple:
        if is_immutable(value):
            if len(_tuples) >= TUPLES_REMEMBERED:
                _tuples.clear()
            _tuples[id(value)] = (value, numba_type)
    elif cls is np.ndarray:
        if value.dtype.fields is None and numba_type is not _pyobject:
            if len(_arrays) >= ARRAYS_REMEMBERED:
                _arrays.clear()
            _arrays[(value.dtype, value.ndim, value.flags.num)] = numba_type
    elif _typed_by_its_attribute_alone(cls, value):
        if hasattr(cls, "_numba_type_"):  # each instance answers for itself
            _own_attribute.add(_watched_key(cls))
        elif numba_type is _pyobject:  # Numba knows nothing of the class
            by_class[_watched_key(cls)] = numba_type
    return numba_type


def _watched_key(cls: type) -> int:
    """The id of *cls*; if *cls* can be freed, its entries are removed when
    it dies."""
    key = id(cls)
    if cls.__flags__ & _HEAP_TYPE and key not in _watched:
        _watched[key] = weakref.ref(cls, functools.partial(_forget_class, key))
    return key


def _forget_class(key: int, _ref: Any) -> None:
    by_class.pop(key, None)
    _own_attribute.discard(key)
    _watched.pop(key, None)


def _tuple_type(value: tuple[Any, ...]) -> Any:
    """Numba's type of the tuple *value* (None where Numba has none), as its
    ``typeof_impl`` for tuples builds it, with the tuple type remembered."""
    item_types = []
    for item in value:
        cls = type(item)
        if cls is tuple:
            item_type = _tuple_type(item)
        elif cls in _FIXED_CLASSES and id(cls) in by_class:
            item_type = by_class[id(cls)]
        else:
            item_type = typeof_impl(item, _argument_context)
        if item_type is None:
            return None
        item_types.append(item_type)
    codes = tuple([item_type._code for item_type in item_types])
    tuple_type = _tuple_types.get(codes)
    if tuple_type is None:
        tuple_type = types.BaseTuple.from_types(item_types, tuple)  # type: ignore[attr-defined]
        if len(_tuple_types) >= TUPLE_TYPES_REMEMBERED:
            _tuple_types.clear()
        _tuple_types[codes] = tuple_type
    return tuple_type


def is_immutable(value: tuple[Any, ...]) -> bool:
    """Whether the tuple *value* and everything in it is immutable (numbers,
    strings, bytes, None, such tuples): its type, and its pickle, never change."""
    return all(
        type(item) in _IMMUTABLE_LEAVES or (type(item) is tuple and is_immutable(item))
        for item in value
    )


def class_key(args: tuple[Any, ...]) -> Any:
    """A memo key for the arguments, if their classes decide their Numba
    types: the Numba type's code for one argument, else a tuple of them (an
    int hashes fast, and a key keeps no class alive); None if any
    argument's type needs its value."""
    if len(registry) != registry_size:
        return None
    if len(args) == 1:  # the common case, without a loop or a tuple
        value = args[0]
        cls = type(value)
        known = by_class.get(id(cls))
        if known is None or (
            known is _pyobject  # (carries_own_type, inline)
            and cls.__dictoffset__
            and "_numba_type_" in getattr(value, "__dict__", ())
        ):
            return None
        return known._code
    codes = []
    for value in args:
        cls = type(value)
        known = by_class.get(id(cls))
        if known is None or (known is _pyobject and carries_own_type(cls, value)):
            return None
        codes.append(known._code)
    return tuple(codes)


def carries_own_type(cls: type, value: Any) -> bool:
    """Whether this instance has a ``_numba_type_`` of its own (only an
    instance with a ``__dict__`` can: a dict or a list cannot)."""
    return bool(cls.__dictoffset__) and "_numba_type_" in getattr(value, "__dict__", ())


def _typed_by_its_attribute_alone(cls: type, value: Any) -> bool:
    """Whether Numba types every instance of *cls* by its ``_numba_type_``
    alone (``pyobject`` without one): Numba's generic ``typeof_impl``, no
    buffer to decode first, not cffi."""
    if typeof_impl.dispatch(cls) is not _generic_impl:
        return False
    if cls.__module__ == "_cffi_backend":  # cffi functions and FFI objects
        return False
    try:
        memoryview(value)
    except TypeError:
        return True
    except Exception:  # a buffer that cannot be exported now (a closed mmap)
        return False
    return False  # a buffer Numba could not decode: its format may differ next time


# -- the dispatcher's keys and types -----------------------------------------


def typeof_pyval(self: Any, val: Any) -> Any:
    """``SmartDispatcher.typeof_pyval``, defined here (*self* is the
    dispatcher): a callback for the C dispatcher, on every call, for each
    argument it cannot fingerprint (a ``str``, a ``dict``, an object),
    matched or not.  Numba's answer, remembered per class where the class
    decides it; the common case (a class in the memo) is inline."""
    cls = type(val)
    tp = by_class.get(id(cls))
    # (an object may carry its own _numba_type_; a typeof_impl may be new).
    # A remembered type stays alive in the memo; pyobject always is.
    if (
        tp is None
        or len(registry) != registry_size
        or (
            tp is _pyobject  # (carries_own_type, inline)
            and cls.__dictoffset__
            and "_numba_type_" in getattr(val, "__dict__", ())
        )
    ):
        tp = numba_typeof(val)
        # Keeps the type alive while the C side holds its code, as Numba's
        # typeof_pyval does: a set from Numba 0.61, a list before.
        active = self._types_active_call
        if type(active) is set:
            active.add(tp)
        else:
            active.append(tp)
    return tp


def memo_key(args: tuple[Any, ...]) -> Any:
    """The key of a miss's arguments in a dispatcher's records: their
    classes' type codes where the classes decide the types (``class_key``),
    else Numba's C fingerprint, else their type codes (``type_codes``)."""
    if args:  # a str, a dict, an object: no fingerprint
        first = type(args[0])
        if first not in FINGERPRINTED and id(first) in by_class:
            key = class_key(args)
            if key is not None:
                return key
    try:
        return compute_fingerprint(args)
    except Exception:  # omitted defaults, or values Numba's C typeof cannot key
        return type_codes(args)


def type_codes(args: tuple[Any, ...]) -> tuple[int, ...]:
    """A memo key for values the C side could not fingerprint: Numba's type
    codes (ints, fast to hash, one per type), the codes of ``folded_types``
    without building that tuple."""
    return tuple(
        Omitted(a.value)._code if isinstance(a, OmittedArg) else typeof_arg(a)._code for a in args
    )


def folded_types(args: tuple[Any, ...], type_of: Any = typeof_arg) -> tuple[Any, ...]:
    """Types of the folded arguments, by default as the C dispatcher types
    them: records are keyed by its fingerprint, so both must agree (an int
    is intp)."""
    return tuple(Omitted(a.value) if isinstance(a, OmittedArg) else type_of(a) for a in args)
