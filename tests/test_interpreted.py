"""interpreted: failure text, unfolding, counting (pure: nothing compiles)."""

import inspect
import itertools

import pytest
from numba import types
from numba.core.dispatcher import OmittedArg

from smart_jit import interpreted
from smart_jit.interpreted import COMPILE_FAILED, Interpreter, count_of, describe_failure
from smart_jit.records import Records

# Messages as Numba 0.59-0.68 word them (ANSI colours included where Numba adds them).
MESSAGES = [
    (
        TypeError,
        "Failed in nopython mode pipeline (step: nopython frontend)\n"
        "\x1b[1mNo implementation of function Function(<built-in function add>) "
        "found for signature:\n \n >>> add(int64, unicode_type)\x1b[0m\n",
        "TypeError: No implementation of function Function(<built-in function add>) "
        "found for signature: >>> add(int64, unicode_type)",
    ),
    (
        ValueError,
        "Failed in nopython mode pipeline (step: nopython frontend)\nUnknown attribute 'x'",
        "ValueError: Unknown attribute 'x'",
    ),
    (RuntimeError, "", "RuntimeError: "),
    (
        RuntimeError,
        "Failed in nopython mode pipeline",
        "RuntimeError: Failed in nopython mode pipeline",
    ),
]


@pytest.mark.parametrize(("cls", "message", "expected"), MESSAGES)
def test_a_failure_is_one_readable_line(cls, message, expected):
    assert describe_failure(cls(message)) == COMPILE_FAILED + expected


def test_a_long_failure_is_cut_with_an_ellipsis():
    text = describe_failure(TypeError("x" * 1000))
    assert len(text) == len(COMPILE_FAILED) + len("TypeError: ") + 200
    assert text.endswith("...")


def test_types_are_described_as_numba_prints_a_signature():
    assert interpreted.describe_types((types.int64, types.unicode_type)) == "(int64, unicode_type)"
    assert interpreted.describe_types(()) == "()"


def test_a_count_reads_what_next_added():
    counter = itertools.count()
    for _ in range(5):
        next(counter)
    assert count_of(counter) == 5
    assert count_of(itertools.count()) == 0


def make(func):
    return Interpreter(func, inspect.signature(func))


def test_folded_arguments_are_unfolded_as_the_function_takes_them():
    def plain(a, b):
        pass

    def default(a, b=10):
        pass

    def star(a, *rest):
        pass

    assert make(plain).plain_args and make(plain).call_values((1, 2)) == (1, 2)
    assert make(default).call_values((1, OmittedArg(10))) == (1, 10)
    assert make(star).call_values((1, (2, 3))) == (1, 2, 3)
    assert not make(star).plain_args and make(star).has_stararg


def test_fallbacks_add_up_signatures_whose_calls_fold_differently():
    known = Records()
    for key in ("folded-1", "folded-2"):
        record = known.add(key)
        record.reported_types = (types.int64, types.int64)
        counter = record.counts.setdefault("why", itertools.count())
        next(counter), next(counter)
    assert interpreted.fallbacks(known) == [
        interpreted.Fallback((types.int64, types.int64), "why", 4)
    ]


def test_a_call_run_by_the_interpreter_is_counted_and_returned_to_c():
    def plain(a):
        return a + 1

    class Owner:
        warn_on_fallback = False

    interpreter, known = make(plain), Records()
    record = known.add("k")
    record.folded_types = (types.int64,)
    run = interpreter.run(Owner(), record, (1,), "why")
    assert run is plain  # C calls the function itself: no frame of ours per call
    assert interpreted.fallbacks(known) == [interpreted.Fallback((types.int64,), "why", 1)]
    ran = interpreter.run_now(Owner(), record, (1,), "why")
    assert ran() == 2
    assert interpreted.fallbacks(known)[0].calls == 2
