from __future__ import annotations

import contextlib
from collections import Counter

import pytest
from numba.core import event

KINDS = ("jit_execution", "interpreter_execution")


class Recorder(event.Listener):
    """Counts start and end events per kind."""

    def __init__(self) -> None:
        self.starts: Counter[str] = Counter()
        self.ends: Counter[str] = Counter()

    def on_start(self, event):
        self.starts[event.kind] += 1

    def on_end(self, event):
        self.ends[event.kind] += 1

    def kinds(self):
        """The one kind per execution, checking starts and ends pair up."""
        assert self.starts == self.ends
        return dict(self.ends)


@contextlib.contextmanager
def recording(*kinds):
    recorder = Recorder()
    with contextlib.ExitStack() as stack:
        for kind in kinds or KINDS:
            stack.enter_context(event.install_listener(kind, recorder))
        yield recorder


@pytest.fixture
def record():
    return recording
