import enum

from smart_jit import Action


def test_action_is_a_real_enum_with_the_seed_members():
    assert issubclass(Action, enum.Enum)
    assert {a.name for a in Action} >= {"JIT", "INTERPRETER", "RAISE_EXCEPTION"}
    assert Action["JIT"] is Action.JIT
    assert Action.JIT != Action.INTERPRETER


def test_background_jit_is_a_fourth_action():
    assert Action.BACKGROUND_JIT in set(Action)
    assert len(Action) == 4
