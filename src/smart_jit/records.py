"""What one dispatcher knows per argument-type signature of its calls.

A ``SignatureRecord`` holds, for the calls whose arguments have one memo key
(``argtypes.memo_key``): the overload Numba would run for them, if any; why
compiling them failed; a background compile still pending; how many calls
were interpreted, and why; and a learning policy's account of them.
``Records`` maps memo keys to records and forgets, on request, one kind of
knowledge at a time: what the overloads answered, pending compiles (in a
forked child), failures (after a recompile), accounts (a new policy).

Records are created and filled on the miss path under no lock: two threads
missing the same key fill the same record with the same answers.  Only the
claim of a background compile is taken under a lock, so that one compile is
queued per signature.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

from . import forksafe

if TYPE_CHECKING:
    from concurrent.futures import Future

# A record's disk stamp before it was resolved: equal to no stamp.
UNRESOLVED: Any = object()
_claim_lock = forksafe.lock()  # held for two attribute writes, never while calling out


class SignatureRecord:
    """What a dispatcher knows about one argument-type signature."""

    __slots__ = (
        "entry",
        "disk_stamp",
        "failure",
        "pending",
        "counts",
        "reported_types",
        "folded_types",
        "account",
        "needs_values",
        "refused",
    )

    def __init__(self) -> None:
        self.entry: Any = None  # the compiled entry point Numba would run
        # Without an entry: what the disk cache's stamp was when it had none
        # (None without a disk cache: nothing to look at again).
        self.disk_stamp: Any = UNRESOLVED
        self.failure: str | None = None  # why compiling these types failed
        self.pending: Future[None] | None = None  # a queued background compile
        self.counts: dict[str, itertools.count[int]] = {}  # reason -> interpreted calls
        self.reported_types: Any = None  # the call's types as the policy sees its values
        self.folded_types: Any = None  # the types Numba compiles for (defaults folded)
        self.account: Any = None  # a learning policy's account of these calls
        self.needs_values = False  # compiles need the call's values (numba.literally)
        self.refused = False  # a call was refused (Action.RAISE_EXCEPTION): logged once


class Records(dict[Any, SignatureRecord]):
    """Memo key -> ``SignatureRecord``.  ``version`` changes whenever an
    overload is added or dropped: a resolution that started before a
    change must not be remembered after it."""

    __slots__ = ("version", "__weakref__")

    def __init__(self) -> None:
        super().__init__()
        self.version = 0

    def add(self, key: Any) -> SignatureRecord:
        """The record for *key*, made if there is none."""
        return self.get(key) or self.setdefault(key, SignatureRecord())

    def all(self) -> list[SignatureRecord]:
        """A copy: other threads add records while it is walked."""
        return list(self.values())

    def forget_resolutions(self) -> None:
        """A new overload may serve types that so far had none."""
        self.version += 1
        for record in self.all():
            record.entry, record.disk_stamp = None, UNRESOLVED

    def forget_failures(self) -> None:
        """The globals may have changed: compile again."""
        for record in self.all():
            record.failure = None

    def forget_accounts(self) -> None:
        for record in self.all():
            record.account = None

    def forget_pending(self) -> None:
        """In a forked child: the parent's queued compiles never run here."""
        for record in self.all():
            record.pending = None

    def failures(self) -> list[tuple[tuple[Any, ...], str]]:
        """(folded types, why) of each signature whose compile failed."""
        return [
            (r.folded_types, r.failure)
            for r in self.all()
            if r.failure is not None and r.folded_types is not None
        ]

    def pending(self) -> list[Future[None]]:
        return [r.pending for r in self.all() if r.pending is not None]


def claim_pending(record: SignatureRecord) -> Future[None] | None:
    """A new pending compile for *record*, or None if one is pending already:
    exactly one caller queues it."""
    from concurrent.futures import Future  # not at import: only background compiles need it

    with _claim_lock:
        if record.pending is not None:
            return None
        future: Future[None] = Future()
        record.pending = future
        return future
