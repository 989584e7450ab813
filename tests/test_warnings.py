import warnings

import pytest
from conftest import PATIENCE
from numba.core.errors import NumbaWarning

from smart_jit import Action, NumbaInterpreterModeWarning, jit


def test_warning_is_a_numba_warning():
    assert issubclass(NumbaInterpreterModeWarning, NumbaWarning)


def test_numba_warning_filters_apply():
    @jit(use_jit=lambda a: Action.INTERPRETER, warn_on_fallback=True)
    def f(a):
        return a

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.simplefilter("ignore", NumbaWarning)
        f(1)
    assert caught == []


def test_warning_points_at_the_callers_line():
    @jit(use_jit=lambda a: Action.INTERPRETER, warn_on_fallback=True)
    def f(a):
        return a

    with pytest.warns(NumbaInterpreterModeWarning) as caught:
        f(1.5)
    assert caught[0].filename == __file__


@pytest.mark.parametrize("action", [Action.INTERPRETER, Action.BACKGROUND_JIT])
def test_a_warning_turned_into_an_error_refuses_the_call(action):
    """The call does not run: nothing is counted, queued or compiled."""
    ran = []

    def kernel(a):
        ran.append(a)
        return a

    f = jit(kernel, use_jit=lambda a: action, warn_on_fallback=True, forceobj=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error", NumbaInterpreterModeWarning)
        with pytest.raises(NumbaInterpreterModeWarning):
            f(1)
    assert ran == [] and f.fallbacks() == []
    assert f.wait_compiled(PATIENCE) and f.signatures == []
