"""records: what a dispatcher knows per signature (pure: nothing compiles)."""

import threading

from numba import types

from smart_jit import records
from smart_jit.records import UNRESOLVED, Records, claim_pending


def test_a_key_has_one_record_made_on_first_use():
    known = Records()
    first = known.add("k")
    assert known.add("k") is first and known.get("k") is first
    assert first.disk_stamp is UNRESOLVED and first.entry is None


def test_forgetting_resolutions_bumps_the_version_and_keeps_the_rest():
    known = Records()
    record = known.add("k")
    record.entry, record.disk_stamp, record.failure = object(), None, "compile failed: x"
    record.counts["why"] = iter(())
    version = known.version
    known.forget_resolutions()
    assert known.version == version + 1
    assert record.entry is None and record.disk_stamp is UNRESOLVED
    assert record.failure == "compile failed: x" and "why" in record.counts


def test_each_kind_of_knowledge_is_forgotten_alone():
    known = Records()
    record = known.add("k")
    record.failure, record.account, record.pending = "compile failed: x", object(), object()
    known.forget_failures()
    assert record.failure is None and record.account is not None
    known.forget_accounts()
    assert record.account is None and record.pending is not None
    known.forget_pending()
    assert record.pending is None


def test_failures_are_reported_by_folded_types_only_once_typed():
    known = Records()
    typed, untyped = known.add("a"), known.add("b")
    typed.folded_types, typed.failure = (types.int64,), "compile failed: A"
    untyped.failure = "compile failed: B"
    assert known.failures() == [((types.int64,), "compile failed: A")]


def test_a_pending_compile_is_claimed_exactly_once_by_racing_threads():
    record = records.SignatureRecord()
    start = threading.Barrier(16)
    claims = []

    def claim():
        start.wait()
        claims.append(claim_pending(record))

    threads = [threading.Thread(target=claim) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    won = [c for c in claims if c is not None]
    assert len(claims) == 16 and len(won) == 1
    assert record.pending is won[0]
    known = Records()
    known["k"] = record
    assert known.pending() == [won[0]]


def test_records_are_weakly_referenceable_and_compare_by_content():
    import weakref

    known = Records()
    assert weakref.ref(known)() is known
    assert Records() == Records()
