"""``adaptive()`` learns across runs: profiles beside Numba's cache, read once
per function, written at exit (merged under a lock, replaced atomically),
ignored with one warning when corrupt or not the user's, never failing a call."""

from __future__ import annotations

import fcntl
import json
import math
import os
import subprocess
import sys
import textwrap

import pytest
from conftest import PATIENCE

from smart_jit import profiles
from smart_jit.adaptive import TRUST, switch_factor

# A program whose one adaptive() function runs until it compiles ("many") or
# a few calls with a compile cost it never reaches ("few"), then prints what
# its account knew.
PROGRAM = """
import json, sys
import numpy as np
from smart_jit import jit, policies, report

COST = {cost}

@jit(use_jit=policies.adaptive(compile_cost=COST))
def total(a):
    s = 0.0
    for x in a:
        s += x
    return s

a = np.ones(20, dtype=sys.argv[2] if len(sys.argv) > 2 else "f8")
if sys.argv[1] == "many":
    while not total.signatures:
        total(a)
else:
    for _ in range(5):
        total(a)
(account,) = total.accounts()
learned = account.learned
print(json.dumps({{
    "basis": (account.switched.estimate if account.switched else account.estimate()).basis,
    "factor": account.factor,
    "prediction": account.prediction,
    "learned": None if learned is None else learned._asdict(),
    "report": str(report(total)),
}}))
"""


@pytest.fixture
def program(tmp_path):
    """Run the program (as a file: Numba's cache locator needs one) with
    a cache directory of its own; what it printed, and its stderr."""
    cache = tmp_path / "cache"

    def run(mode, cost="None", dtype="f8", source=None, **env):
        script, text = tmp_path / "app.py", source or PROGRAM.format(cost=cost)
        if not script.exists() or script.read_text() != text:
            # Written once: in older Numba releases (0.59) the source stamp
            # is the file's mtime and size, so a rewrite makes the profile stale.
            script.write_text(text)
        out = subprocess.run(
            [sys.executable, str(script), mode, dtype],
            capture_output=True,
            text=True,
            timeout=PATIENCE,
            env={
                **os.environ,
                "NUMBA_CACHE_DIR": str(cache),
                "PYTHONWARNINGS": "always",
                "SMART_JIT_PROFILE": "1",  # off for the rest of the suite (conftest)
                **env,
            },
        )
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout.splitlines()[-1]), out.stderr

    run.cache = cache
    return run


def profile_files(cache):
    return sorted(cache.rglob(f"*{profiles.SUFFIX}"))


def test_a_second_run_uses_the_compile_the_first_measured_and_its_horizon(program):
    first, _ = program("many")
    assert first["basis"].startswith("predicted from bytecode")
    assert first["learned"] is None and first["prediction"] is None and first["factor"] == 1.0
    (path,) = profile_files(program.cache)
    assert path.name.startswith("app.total-") and oct(path.stat().st_mode & 0o777) == "0o600"
    content = json.loads(path.read_text())
    assert content["format"] == profiles.FORMAT
    assert content["key"]["function"] == "__main__.total"
    import numba

    assert content["key"]["numba"] == numba.__version__
    (entry,) = content["signatures"].values()
    assert len(entry["compile_seconds"]) == 1 and entry["per_call"] > 0
    assert entry["runs"][0]["compiled"] and entry["runs"][0]["verdict"] == "many"

    second, _ = program("many")
    assert second["basis"].startswith("measured in earlier runs: median of 1 compile(s)")
    assert second["learned"]["compile_seconds"] == entry["compile_seconds"][0]
    assert second["learned"]["per_call"] == entry["per_call"]
    factor = second["factor"]
    assert second["prediction"] == "many" and 0 <= factor <= TRUST
    assert "from earlier runs: 1 run(s)" in second["report"]
    assert f"they predict many calls: switching at {factor:.2g}x the compile" in second["report"]
    if factor > 0:  # else the first call switched, on its predicted cost alone
        assert f"x {factor:.2g} (earlier runs' prediction)" in second["report"]

    # The second run switched early (below the compile's cost), trusting the
    # first: it cannot tell the horizon, and the third still follows the
    # first's verdict; it draws its switch point again.
    third, _ = program("many")
    runs = third["learned"]["runs"]
    assert [r[3] for r in runs] == ["many", None] and third["prediction"] == "many"
    assert third["factor"] != factor


def test_few_calls_predict_few_and_push_the_switch_out(program):
    first, _ = program("few", cost=60.0)
    second, _ = program("few", cost=60.0)
    assert first["factor"] == 1.0
    factor = second["factor"]
    assert second["prediction"] == "few" and 0 <= factor <= 1 / TRUST
    assert second["learned"]["runs"][0][0] == 5  # five interpreted calls
    assert f"interpreting until {60 * factor:.3g} s" in second["report"]


def test_a_changed_source_makes_the_profile_stale_and_silent(program):
    program("many")
    changed = PROGRAM.format(cost="None") + "\n# edited\n"
    second, stderr = program("many", source=changed)
    assert second["learned"] is None and "profile" not in stderr


def test_another_numba_or_cpu_makes_it_stale(program):
    program("many")
    (path,) = profile_files(program.cache)
    for field, value in (("numba", "0.1.0"), ("cpu", "a-cpu-elsewhere")):
        content = json.loads(path.read_text())
        content["key"][field] = value
        path.write_text(json.dumps(content))
        again, stderr = program("many")
        assert again["learned"] is None and "profile" not in stderr


@pytest.mark.parametrize(
    "spoil, why",
    [
        (lambda p: p.write_text("{not json"), "is not JSON"),
        (lambda p: p.write_text('{"format": "other"}'), "is not a numba-smartjit profile"),
        (lambda p: p.write_text("[1, 2]"), "is not a numba-smartjit profile"),
        (lambda p: p.chmod(0o666), "is writable by other users"),
        (lambda p: p.write_text(" " * (profiles.MAX_BYTES + 1)), "is bigger than"),
    ],
    ids=["corrupt", "foreign", "a list", "writable by others", "too big"],
)
def test_a_bad_profile_is_ignored_with_one_warning_then_replaced(program, spoil, why):
    program("many")
    (path,) = profile_files(program.cache)
    spoil(path)
    again, stderr = program("many")
    assert again["learned"] is None
    warned = [line for line in stderr.splitlines() if "NumbaWarning" in line]
    assert len(warned) == 1 and why in warned[0] and str(path) in warned[0]
    path.chmod(0o600)
    assert json.loads(path.read_text())["format"] == profiles.FORMAT  # written anew at exit


def test_a_directory_in_its_place_is_a_warning_and_no_write(program):
    program("many")
    (path,) = profile_files(program.cache)
    path.unlink()
    path.mkdir()
    again, stderr = program("many")
    assert again["learned"] is None and "is not a regular file" in stderr
    assert path.is_dir()


def test_a_location_that_cannot_be_written_fails_nothing(program, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    out, stderr = program("many", NUMBA_CACHE_DIR=str(blocker / "cache"))
    assert out["learned"] is None and "Warning" not in stderr


def test_smart_jit_profile_0_reads_and_writes_nothing(program):
    program("many", SMART_JIT_PROFILE="0")
    assert profile_files(program.cache) == []
    program("many")
    second, _ = program("many", SMART_JIT_PROFILE="0")
    assert second["learned"] is None


def test_processes_writing_at_once_lose_no_signature(program, tmp_path):
    # Each process learns another signature of one function; every one of
    # them is in the profile afterwards (merged under the lock).
    script = tmp_path / "app.py"
    script.write_text(PROGRAM.format(cost=60.0))
    env = dict(os.environ, NUMBA_CACHE_DIR=str(program.cache), SMART_JIT_PROFILE="1")
    dtypes = ["f8", "f4", "i8", "i4", "i2", "u1"]
    running = [
        subprocess.Popen(
            [sys.executable, str(script), "few", t], env=env, stdout=subprocess.DEVNULL
        )
        for t in dtypes
    ]
    assert all(p.wait(PATIENCE) == 0 for p in running)
    (path,) = profile_files(program.cache)
    signatures = json.loads(path.read_text())["signatures"]
    assert len(signatures) == len(dtypes)


def test_a_writer_that_cannot_get_the_lock_gives_up_and_exits(program, monkeypatch):
    program("few", cost=60.0)
    (path,) = profile_files(program.cache)
    before = path.read_bytes()
    fd = os.open(f"{path}.lock", os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)  # held for the whole of the next run
    try:
        program("few", cost=60.0)
    finally:
        os.close(fd)
    assert path.read_bytes() == before  # it waited LOCK_PATIENCE, then wrote nothing
    program("few", cost=60.0)
    assert len(json.loads(path.read_text())["signatures"]["(array(float64, 1d, C))"]["runs"]) == 2


class Entry:
    """An account as a profile sees it."""

    def __init__(self, signature, seconds, verdict="few"):
        self.signature, self.seconds, self.verdict = signature, seconds, verdict

    def profile_entry(self):
        run = {"calls": 3, "seconds": self.seconds, "compiled": False, "verdict": self.verdict}
        return self.signature, {
            "compile_seconds": [0.25],
            "per_call": self.seconds / 3,
            "per_element": None,
            "run": run,
        }


def kernel(a):
    return a + 1


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    """Profiles of this process in *tmp_path*: Numba reads NUMBA_CACHE_DIR
    once, at import, into its config."""
    from numba.core import config

    monkeypatch.setattr(config, "CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("SMART_JIT_PROFILE", "1")
    monkeypatch.setattr(profiles, "_profiles", profiles.weakref.WeakKeyDictionary())
    monkeypatch.setattr(profiles, "_live", [])
    return tmp_path


def test_the_file_is_bounded(in_tmp):
    profile = profiles.Profile(kernel)
    entries = [Entry(f"(sig{i},)", 0.001) for i in range(profiles.SIGNATURES + 36)]
    for entry in entries:
        profile.add(entry)
    for _ in range(profiles.RUNS + 2):
        profile.write()
    content = json.loads(open(profile.path).read())
    assert len(content["signatures"]) == profiles.SIGNATURES
    for entry in content["signatures"].values():
        assert len(entry["runs"]) == profiles.RUNS
        assert len(entry["compile_seconds"]) == profiles.COMPILES
    assert os.path.getsize(profile.path) < profiles.MAX_BYTES


def test_a_read_only_location_is_read_and_not_written(in_tmp, monkeypatch):
    writer = profiles.Profile(kernel)
    entry = Entry("(int64,)", 0.003)
    writer.add(entry)
    writer.write()
    before = open(writer.path, "rb").read()

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Read-only file system")

    monkeypatch.setattr(profiles.tempfile, "mkstemp", refuse)
    reader = profiles.Profile(kernel)
    assert reader.learned("(int64,)").per_call == pytest.approx(0.001)
    reader.add(entry)
    reader.write()  # refused, quietly
    assert open(writer.path, "rb").read() == before


def test_readers_never_see_a_partial_file(tmp_path):
    # Two processes rewrite one profile again and again while this one reads it.
    code = textwrap.dedent(
        f"""
        import os, sys
        os.environ["NUMBA_CACHE_DIR"] = {str(tmp_path)!r}
        os.environ["SMART_JIT_PROFILE"] = "1"
        sys.path.insert(0, {os.path.dirname(__file__)!r})
        from test_profiles import Entry, kernel
        from smart_jit import profiles
        profile, entries = profiles.Profile(kernel), []
        for i in range(60):
            entries.append(Entry(f"(sig{{sys.argv[1]}}_{{i}},)", 0.001))
            profile.add(entries[-1])  # kept by a weak reference
            profile.write()
        """
    )
    writers = [subprocess.Popen([sys.executable, "-c", code, str(n)]) for n in range(2)]
    reads = 0
    path = None
    while any(w.poll() is None for w in writers):
        path = path or next(iter(tmp_path.rglob(f"*{profiles.SUFFIX}")), None)
        if path is not None:
            json.loads(path.read_text())  # never a partial file
            reads += 1
    assert all(w.wait(PATIENCE) == 0 for w in writers)
    content = json.loads(next(tmp_path.rglob(f"*{profiles.SUFFIX}")).read_text())
    assert len(content["signatures"]) == profiles.SIGNATURES  # 120 written, the newest kept
    assert reads > 0


class Function:
    """What an account asks of its dispatcher: the Python function."""

    py_func = staticmethod(kernel)
    targetoptions: dict = {}


@pytest.mark.parametrize("verdict", ["many", None, "few"])
def test_the_switch_moves_by_what_earlier_runs_predict(in_tmp, verdict):
    # A given compile cost of 1 s and calls that each take 0.125 s: the
    # account interprets until interpreting has cost its factor x the
    # compile, a factor drawn in [0, TRUST] ("many"), [0, 1 / TRUST] ("few"),
    # or 1 without a prediction.
    from numba.core import types

    from smart_jit import Action
    from smart_jit.adaptive import Account, adaptive

    earlier = Entry("(int64)", 3 * 0.125, verdict)
    writer = profiles.Profile(kernel)
    writer.add(earlier)
    writer.write()
    function = Function()
    policy, types_ = adaptive(compile_cost=1.0), (types.int64,)
    account = Account(policy, function, types_, types_, profiles.of(kernel))
    factor = account.factor
    assert account.learned.per_call == 0.125 and account.prediction == verdict
    assert {"many": 0 <= factor <= TRUST, "few": 0 <= factor <= 1 / TRUST}.get(
        verdict, factor == 1.0
    )
    calls = 0
    while account(1) is Action.INTERPRETER:
        account.interpreted_call((1,), 0.125)
        calls += 1
    assert calls == max(0, math.ceil(factor / 0.125) - 1)  # calls + 1 predicted >= factor
    assert account.switched.factor == factor


def test_the_switch_points_follow_the_randomized_rule():
    # The inverse of the distribution with density proportional to exp(t):
    # its ends, its median, and the expected ratios the docs state.
    for prediction, end in (("many", TRUST), ("few", 1 / TRUST)):
        assert switch_factor(prediction, 0.0) == 0.0
        assert switch_factor(prediction, 1.0) == pytest.approx(end)
        draws = [switch_factor(prediction, (i + 0.5) / 10_000) for i in range(10_000)]
        assert draws == sorted(draws)
        mean = sum(draws) / len(draws)
        assert mean == pytest.approx(end * math.exp(end) / math.expm1(end) - 1, rel=1e-3)
    consistency = TRUST / -math.expm1(-TRUST)
    robustness = 1 / -math.expm1(-TRUST)
    assert consistency <= 1.25 and robustness <= 3.0
    assert (round(consistency, 2), round(robustness, 2)) == (1.23, 2.86)


KERNEL = """
import numpy as np
from smart_jit import jit, policies

@jit(use_jit=policies.adaptive(compile_cost=60.0))
def total(a):
    s = 0.0
    for x in a:
        s += x
    return s

def work(n):
    return total(np.ones(n))
"""

CLUSTER = """
import distributed
import kern

if __name__ == "__main__":
    with (
        distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                 dashboard_address=None) as cluster,
        distributed.Client(cluster) as client,
    ):
        assert client.gather(client.map(kern.work, range(1, 41))) == list(range(1, 41))
"""


@pytest.mark.slow  # starts a cluster
def test_dask_workers_write_one_profile_and_lose_no_run(tmp_path):
    (tmp_path / "kern.py").write_text(KERNEL)
    (tmp_path / "cluster.py").write_text(CLUSTER)
    cache = tmp_path / "cache"
    env = dict(
        os.environ, NUMBA_CACHE_DIR=str(cache), SMART_JIT_PROFILE="1", PYTHONPATH=str(tmp_path)
    )
    out = subprocess.run(
        [sys.executable, "cluster.py"], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=PATIENCE,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    (path,) = profile_files(cache)
    (entry,) = json.loads(path.read_text())["signatures"].values()
    # Each worker that ran calls wrote its own run; together, every call.
    assert sum(run["calls"] for run in entry["runs"]) == 40
    assert all(run["verdict"] == "few" for run in entry["runs"])
