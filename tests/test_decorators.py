"""The decorator: every numba.jit form, and bad input refused at decoration."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numba
import pytest

import smart_jit
from smart_jit import Action, SmartDispatcher, jit, njit
from smart_jit import smart_jit as smart_jit_alias


def ident(a):
    return a


@pytest.mark.parametrize(
    "make",
    [
        lambda: jit(ident),
        lambda: jit()(ident),
        lambda: jit("int64(int64)")(ident),
        lambda: jit(["int64(int64)"], cache=False)(ident),
        lambda: jit(use_jit=lambda a: Action.JIT)(ident),
        lambda: njit(ident),
        lambda: njit(use_jit=lambda a: Action.JIT)(ident),
        lambda: smart_jit_alias(ident),
        lambda: jit(nogil=True, boundscheck=True, fastmath=True, error_model="numpy")(ident),
        lambda: jit(locals={"a": numba.int64})(ident),
    ],
)
def test_every_numba_form(make):
    f = make()
    assert isinstance(f, SmartDispatcher)
    assert f(3) == 3
    assert f.py_func is ident


def test_smart_jit_is_jit():
    assert smart_jit.smart_jit is smart_jit.jit


def test_njit_warns_like_numba():
    with pytest.warns(RuntimeWarning, match="nopython is set for njit"):
        njit(nopython=True)(ident)


def test_explicit_signatures_compile_at_decoration():
    f = jit(["int64(int64)", "float64(float64)"])(ident)
    assert [tuple(map(str, s)) for s in f.signatures] == [("int64",), ("float64",)]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"use_jit": 5}, r"use_jit of .*ident must be callable, got 5"),
        ({"use_jit": lambda a, b: Action.JIT}, r"use_jit .* of .*ident cannot take the 1"),
        ({"use_jit": lambda: Action.JIT}, r"cannot take the 1 argument"),
        ({"warn_on_fallback": "yes"}, r"warn_on_fallback of .*ident must be a bool, got 'yes'"),
        ({"background": 1}, r"background of .*ident must be a bool, got 1"),
        ({"on_compile_error": Action.JIT}, r"on_compile_error of .*ident must be"),
        ({"not_an_option": True}, r"jit of .*ident: Unrecognized options: \{'not_an_option'\}"),
    ],
)
def test_bad_decorator_input_is_a_type_error_naming_function_and_value(kwargs, message):
    with pytest.raises(TypeError, match=message):
        jit(**kwargs)(ident)


def test_policy_taking_varargs_is_accepted():
    assert jit(use_jit=lambda *args: Action.JIT)(ident)(2) == 2


@pytest.mark.parametrize("thing", [5, "text", print, SmartDispatcher])
def test_decorating_a_non_function_is_refused(thing):
    with pytest.raises(
        TypeError,
        match=r"^The decorated object is not a function \(got type .*"
        r"jit can only decorate a Python function",
    ):
        jit(use_jit=lambda a: Action.JIT)(thing)


def test_decorating_a_jitted_function_is_refused():
    with pytest.raises(TypeError, match="already jitted"):
        jit(numba.njit(ident))


def test_disable_jit_runs_python_and_says_why(tmp_path):
    code = textwrap.dedent(
        """
        from numba.core import event
        from smart_jit import Action, jit
        calls = []
        def policy(a):
            calls.append(a)
            return Action.RAISE_EXCEPTION
        @jit(use_jit=policy, cache=True)
        def twice(a):
            return a * 2
        class Count(event.Listener):
            n = 0
            def on_start(self, e): pass
            def on_end(self, e): Count.n += 1
        with event.install_listener("interpreter_execution", Count()):
            print(twice(2), twice("ab"), twice(a=3))
        print(Count.n, calls, twice.signatures, twice.wait_compiled())
        print(sorted((tuple(map(str, r.signature)), r.reason, r.calls) for r in twice.fallbacks()))
        """
    )
    env = dict(os.environ, NUMBA_DISABLE_JIT="1")
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert out == [
        "4 abab 6",
        "3 [] [] True",
        "[(('int64',), 'NUMBA_DISABLE_JIT is set', 2), (('unicode_type',), "
        "'NUMBA_DISABLE_JIT is set', 1)]",
    ]


def keyword_only(a, *, b=1):
    return a + b


def star(a, *rest):
    return a + len(rest)


def test_keyword_only_parameters_are_refused_as_such():
    with pytest.raises(TypeError, match=r"jit of keyword_only: keyword-only parameters .*: b"):
        jit(keyword_only, use_jit=lambda a: Action.JIT)


def test_a_star_function_needs_a_policy_that_takes_any_number():
    with pytest.raises(TypeError, match=r"use_jit .* of star must take \*args"):
        jit(star, use_jit=lambda a: Action.JIT)
    with pytest.raises(TypeError, match=r"must take \*args"):
        jit(star, use_jit=lambda a, b=None: Action.JIT)
    f = jit(star, use_jit=lambda a, *rest: Action.INTERPRETER)
    assert f(1, 2, 3) == 3


def test_decorating_a_jitted_function_keeps_numbas_message_first():
    with pytest.raises(TypeError) as caught:
        jit(numba.njit(ident))
    assert str(caught.value).startswith("A jit decorator was called on an already jitted function")
    assert "decorate ident.py_func instead" in str(caught.value)


def in_jit_mode_and_with_jit_disabled(code):
    """What *code* prints in a fresh interpreter, with NUMBA_DISABLE_JIT 0 and 1."""
    outputs = []
    for disabled in ("0", "1"):
        env = dict(os.environ, NUMBA_DISABLE_JIT=disabled)
        out = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        outputs.append(out.stdout.strip())
    return outputs


def test_disable_jit_keys_calls_as_jit_mode_does():
    code = textwrap.dedent(
        """
        from smart_jit import Action, jit
        def kernel(a, b=10, *rest):
            return a + b + len(rest)
        f = jit(kernel, use_jit=lambda *a: Action.INTERPRETER)
        f(1); f(1, 10); f(a=1); f(1, 10, 5)
        print(sorted((tuple(map(str, r.signature)), r.calls) for r in f.fallbacks()))
        """
    )
    outputs = in_jit_mode_and_with_jit_disabled(code)
    assert (
        outputs[0] == outputs[1] == ("[(('int64', 'int64'), 3), (('int64', 'int64', 'int64'), 1)]")
    )


def test_disable_jit_expands_star_args_where_they_stand():
    code = textwrap.dedent(
        """
        from smart_jit import jit
        def kernel(a, *rest, scale=1.5):
            return (a + len(rest)) * scale
        f = jit(kernel)
        f(1, "x", "y")
        print([tuple(map(str, r.signature)) for r in f.fallbacks()])
        """
    )
    env = dict(os.environ, NUMBA_DISABLE_JIT="1")
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[('int64', 'unicode_type', 'unicode_type', 'float64')]"


def test_disable_jit_events_carry_the_arguments_jit_mode_gives():
    code = textwrap.dedent(
        """
        from numba.core import event
        from smart_jit import Action, jit
        seen = []
        class Args(event.Listener):
            def on_start(self, e): seen.append(tuple(e.data["args"]))
            def on_end(self, e): pass
        g = jit(lambda a, b=10: a + b, use_jit=lambda a, b: Action.INTERPRETER)
        with event.install_listener("interpreter_execution", Args()):
            g(1); g(b=5, a=1); g(2, 3)
        print(seen)
        """
    )
    outputs = in_jit_mode_and_with_jit_disabled(code)
    assert outputs == ["[(1, 10), (1, 5), (2, 3)]"] * 2
