"""Background compiles in the compile process (``compile_process``).

Compiled results are compared with plain Numba compiling the same function in
this process, which is the oracle: the server must compile exactly what an
in-process compile would.
"""

from __future__ import annotations

import importlib
import os
import signal
import subprocess
import sys
import textwrap
import time
import warnings

import numba
import numpy as np
import pytest
from conftest import PATIENCE
from kernels import adds_stall, recursive_functions
from numba.core.errors import NumbaPerformanceWarning
from numba.extending import overload

from smart_jit import Action, compile_process, jit
from smart_jit.background import compiling_on_thread, let_compile_run
from smart_jit.interpreted import REASON_BACKGROUND

BACKGROUND = Action.BACKGROUND_JIT


def background(*args):
    return BACKGROUND


@pytest.fixture(autouse=True)
def process_mode(monkeypatch):
    monkeypatch.setenv(compile_process.MODE_VARIABLE, "process")


def compiled_by_the_server(f, *args):
    """Call *f* (interpreted while it compiles), wait, call again compiled;
    both results, after checking the server compiled it."""
    before = compile_process.outcomes["compiled"]
    interpreted = f(*args)
    assert f.wait_compiled(PATIENCE)
    assert compile_process.outcomes["compiled"] == before + 1, dict(compile_process.outcomes)
    assert len(f.signatures) == 1, f._records.failures()
    return interpreted, f(*args)


def import_file(tmp_path, monkeypatch, name, source):
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
    monkeypatch.syspath_prepend(str(tmp_path))
    return importlib.import_module(name)


def test_a_global_changed_after_import_compiles_as_it_is_now(tmp_path, monkeypatch):
    mod = import_file(
        tmp_path,
        monkeypatch,
        "scaling_mod",
        """
        SCALE = 1
        def scaled(x):
            return x * SCALE
        """,
    )
    mod.SCALE = 5  # the server would see 1 if it imported the module afresh
    f = jit(use_jit=background)(mod.scaled)
    assert compiled_by_the_server(f, 2) == (10, numba.njit(mod.scaled)(2)) == (10, 10)


def test_a_source_file_edited_after_import_runs_the_imported_code(tmp_path, monkeypatch):
    mod = import_file(
        tmp_path,
        monkeypatch,
        "edited_mod",
        """
        import numba
        @numba.njit
        def helper(x):
            return x + 1
        def outer(x):
            return helper(x) * 2
        """,
    )
    (tmp_path / "edited_mod.py").write_text("def helper(x):\n    return x + 100\n")
    f = jit(use_jit=background)(mod.outer)
    assert compiled_by_the_server(f, 3) == (8, 8)


def test_a_module_attribute_changed_at_run_time_compiles_as_it_is_now(tmp_path, monkeypatch):
    # The server imports settings_mod and helper_mod from disk; what the
    # compile reads of them must be what this process has.
    settings = import_file(tmp_path, monkeypatch, "settings_mod", "SCALE = 2.0\n")
    helper = import_file(
        tmp_path,
        monkeypatch,
        "helper_mod",
        """
        import numba
        FACTOR = 1.0
        @numba.njit
        def times(x):
            return x * FACTOR
        """,
    )
    mod = import_file(
        tmp_path,
        monkeypatch,
        "uses_settings_mod",
        """
        import settings_mod, helper_mod
        def scaled(a):
            return helper_mod.times(a * settings_mod.SCALE)
        """,
    )
    settings.SCALE = 3.0
    helper.FACTOR = 10.0
    expected = mod.scaled(2.0)  # interpreted: 60.0
    f = jit(use_jit=background)(mod.scaled)
    assert compiled_by_the_server(f, 2.0) == (expected, expected) == (60.0, 60.0)
    assert numba.njit(mod.scaled)(2.0) == 60.0  # compiled in this process


def test_a_class_of_the_functions_module_is_never_imported_by_the_server(tmp_path, monkeypatch):
    marker = tmp_path / "imported_by"
    source = f"""
        import os
        from enum import IntEnum
        with open({str(marker)!r}, "a") as out:
            out.write(str(os.getpid()) + "\\n")
        class Level(IntEnum):
            HIGH = {{high}}
        def weight(a):
            return a * Level.HIGH
        """
    mod = import_file(tmp_path, monkeypatch, "levels_mod", source.format(high=10))
    # A deployment replaces the file after import.
    (tmp_path / "levels_mod.py").write_text(textwrap.dedent(source.format(high=1000)))
    f = jit(use_jit=background)(mod.weight)
    before = compile_process.outcomes["does not pickle"]
    assert f(2) == 20
    assert f.wait_compiled(PATIENCE)
    assert f(2) == 20 and len(f.signatures) == 1  # compiled on the thread
    assert compile_process.outcomes["does not pickle"] == before + 1
    assert marker.read_text().split() == [str(os.getpid())], "its top level ran elsewhere"


def test_the_server_imports_nothing_from_the_working_directory(tmp_path):
    planted = tmp_path / "cwd"
    planted.mkdir()
    ran = tmp_path / "planted_code_ran"
    for name in ("json", "sitecustomize", "usercustomize", "struct"):
        (planted / f"{name}.py").write_text(
            f"open({str(ran)!r}, 'a').write({name!r} + ' ')\nraise ImportError('planted')\n"
        )
    script_dir = tmp_path / "service"
    script_dir.mkdir()
    script = script_dir / "service.py"
    script.write_text(
        textwrap.dedent(
            """
            from smart_jit import Action, compile_process, jit
            f = jit(use_jit=lambda a: Action.BACKGROUND_JIT)(lambda a: a + 1)
            f(1)
            assert f.wait_compiled()
            print(dict(compile_process.outcomes), f(1))
            """
        )
    )
    env = dict(os.environ, **{compile_process.MODE_VARIABLE: "process"})
    env.pop("PYTHONPATH", None)
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=planted,
        capture_output=True,
        text=True,
        timeout=PATIENCE,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["{'compiled':", "1}", "2"], done.stdout
    assert not ran.exists(), f"ran in the working directory: {ran.read_text()}"


def test_a_process_compile_is_timed_once_the_server_is_ready(monkeypatch):
    from numba.core import event

    from smart_jit import compile_costs

    if compile_process._current is not None:
        compile_process._retire(compile_process._current)
    monkeypatch.setattr(compile_process, "RESTART_INTERVAL", 0.0)
    started = []

    class Starts(event.Listener):
        def on_start(self, ev):
            if ev.data.get("compile_process"):
                started.append(time.perf_counter())

        def on_end(self, ev):
            pass

    f = make_adder(3)
    with event.install_listener("numba:compile", Starts()):
        assert compiled_by_the_server(f, 1) == (4, 4)
    server = compile_process._current
    assert server is not None and server.ready_at is not None
    assert started and started[0] >= server.ready_at, "the server's start-up was timed"
    (record,) = compile_costs.compiles_of(f)
    assert record.first_in_process is False


def make_adder(k):
    return jit(use_jit=background)(lambda x: x + k)


def test_a_closure_and_a_lambda():
    f = make_adder(7)
    assert compiled_by_the_server(f, 1.5) == (8.5, numba.njit(f.py_func)(1.5))


@numba.njit
def plain_callee(x):
    return x * 3


def calls_callees(a):
    return plain_callee(a[0]) + a.sum()


def test_callees_plain_and_smart_compile_and_run_the_same():
    from kernels import total  # a smart function from another module

    f = jit(use_jit=background)(calls_callees)
    a = np.arange(5.0)
    assert compiled_by_the_server(f, a) == (10.0, 10.0)
    g = jit(use_jit=background)(lambda a: total(a) * 2)
    assert compiled_by_the_server(g, a) == (20.0, 20.0)


def parallel_sum(a):
    s = 0.0
    for i in numba.prange(a.shape[0]):
        s += a[i] * 2
    return s


def test_parallel_true():
    f = jit(use_jit=background, parallel=True)(parallel_sum)
    a = np.arange(1000.0)
    expected = numba.njit(parallel=True)(parallel_sum)(a)
    assert compiled_by_the_server(f, a) == (expected, expected)


def no_parallelism(x):
    return x + 1


def test_numba_warnings_of_the_server_compile_are_issued_here():
    f = jit(use_jit=background, parallel=True)(no_parallelism)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        compiled_by_the_server(f, 1)
    assert any(issubclass(w.category, NumbaPerformanceWarning) for w in caught), caught


def fails_to_compile(x):
    return [x, "a"]


def test_a_failed_compile_reads_as_one_compiled_here(monkeypatch):
    reasons = {}
    for mode in ("process", "thread"):
        monkeypatch.setenv(compile_process.MODE_VARIABLE, mode)
        f = jit(use_jit=background)(fails_to_compile)
        assert f(1) == [1, "a"]
        assert f.wait_compiled(PATIENCE)
        assert f(1) == [1, "a"]
        reasons[mode] = sorted(fb.reason for fb in f.fallbacks())
    assert reasons["process"] == reasons["thread"]
    assert any(r.startswith("compile failed: ") for r in reasons["process"])


def plus_one(x):
    return x + 1


@overload(plus_one)
def _plus_one_in_numba(x):
    return lambda x: x + 1


def uses_an_overload_of_its_module(x):
    return plus_one(x) * 2


def test_what_fails_only_in_the_server_is_compiled_here():
    """The function travels by value; its module's @overload is registered
    only in this process, so Numba fails there and the thread confirms."""
    f = jit(use_jit=background)(uses_an_overload_of_its_module)
    before = compile_process.outcomes.copy()
    assert f(3) == 8
    assert f.wait_compiled(PATIENCE)
    assert f(3) == 8 and len(f.signatures) == 1
    assert compile_process.outcomes["failed"] == before["failed"] + 1
    assert f.fallbacks()[0].reason == REASON_BACKGROUND


class DoesNotPickle(int):
    def __reduce__(self):
        raise TypeError("does not pickle")


UNPICKLABLE = DoesNotPickle(3)
BIG = np.arange(2_000_000.0)  # Numba links it as a dynamic global: its cache refuses it


def adds_unpicklable(x):
    return x + UNPICKLABLE


def reads_big(i):
    return BIG[i]


@pytest.mark.parametrize(
    ("function", "arg", "outcome"),
    [(adds_unpicklable, 1, "does not pickle"), (reads_big, 7, "cannot travel")],
)
def test_what_cannot_travel_compiles_on_the_thread(function, arg, outcome):
    f = jit(use_jit=background)(function)
    before = compile_process.outcomes.copy()
    expected = numba.njit(function)(arg)
    assert f(arg) == expected
    assert f.wait_compiled(PATIENCE)
    assert f(arg) == expected and len(f.signatures) == 1
    assert compile_process.outcomes[outcome] == before[outcome] + 1
    assert compile_process.outcomes["compiled"] == before["compiled"]


def test_mutual_recursion_compiles_on_the_thread_and_does_not_abort():
    """Numba links a call back into a function still being compiled at run
    time, in the compiling process: rebuilt here, LLVM would abort us."""
    _, is_even_mutual, is_odd_mutual = recursive_functions(jit(use_jit=background))
    before = compile_process.outcomes.copy()
    assert is_even_mutual(7) is False
    assert is_even_mutual.wait_compiled(PATIENCE)
    assert (is_even_mutual(8), is_odd_mutual(5)) == (True, True)
    assert len(is_even_mutual.signatures) == 1
    assert compile_process.outcomes["cannot travel"] == before["cannot travel"] + 1


def test_thread_mode_and_the_default_mode(monkeypatch):
    monkeypatch.setenv(compile_process.MODE_VARIABLE, "thread")
    assert compile_process.uses_process() is False
    before = compile_process.outcomes.copy()
    f = jit(use_jit=background)(no_parallelism)
    f(1)
    assert f.wait_compiled(PATIENCE) and f(1) == 2 and len(f.signatures) == 1
    assert compile_process.outcomes == before

    monkeypatch.delenv(compile_process.MODE_VARIABLE)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0}, raising=False)
    assert compile_process.uses_process() is False
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    assert compile_process.uses_process() is True
    monkeypatch.setenv(compile_process.MODE_VARIABLE, "processes")
    with pytest.warns(RuntimeWarning, match="SMART_JIT_COMPILE='processes'"):
        assert compile_process.uses_process() is True


def wait_for_server():
    deadline = time.monotonic() + PATIENCE
    while compile_process.server_pid() is None:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    return compile_process.server_pid()


def test_a_server_killed_mid_compile_falls_back_and_restarts_at_most_once_a_minute(
    monkeypatch,
):
    f = jit(use_jit=background)(adds_stall)
    assert f(1) == 5
    pid = wait_for_server()
    deadline = time.monotonic() + PATIENCE
    while compile_process._current is None or compile_process._current.ready_at is None:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    time.sleep(0.2)  # the request is in; the server stalls unpickling it
    assert f.wait_compiled(0.1) is False
    started = compile_process._started
    # As if it had started just now: it dies within the minute of its start.
    monkeypatch.setattr(compile_process, "_last_start", time.monotonic())
    os.kill(pid, signal.SIGKILL)
    assert f.wait_compiled(PATIENCE)
    assert f(1) == 5 and len(f.signatures) == 1, "the thread compiled it"
    assert compile_process.outcomes["server died"] >= 1
    assert compile_process.server_pid() is None

    g = jit(use_jit=background)(no_parallelism)  # within the minute: no new server
    g(1)
    assert g.wait_compiled(PATIENCE) and g(1) == 2
    assert compile_process._started == started and compile_process.server_pid() is None

    monkeypatch.setattr(compile_process, "RESTART_INTERVAL", 0.0)
    h = make_adder(1)
    assert compiled_by_the_server(h, 1) == (2, 2)
    assert compile_process._started == started + 1


def test_waiting_calls_yield_at_most_every_interval(monkeypatch):
    from smart_jit import background as bg

    clock = [100.0]
    sleeps = []
    monkeypatch.setattr(bg.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(bg.time, "sleep", sleeps.append)
    monkeypatch.setattr(bg, "_next_yield", 0.0)
    let_compile_run()
    assert sleeps == [], "no compile on the thread: nothing to yield to"
    with compiling_on_thread():
        for _ in range(5):
            let_compile_run()
        assert sleeps == [0]
        clock[0] += bg.YIELD_INTERVAL
        let_compile_run()
        let_compile_run()
        assert sleeps == [0, 0]


# -- in a fresh process --------------------------------------------------------

KERNEL = """
import time
import numpy as np
from kernels import slow_to_compile as kernel
from smart_jit import Action, compile_process, jit
a = np.arange(1000.0)
"""


TESTS = os.path.dirname(os.path.abspath(__file__))


def run_script(code, timeout=PATIENCE):
    """Run *code* in a fresh interpreter that can import this directory's modules."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=dict(
            os.environ,
            PYTHONPATH=os.pathsep.join(filter(None, [TESTS, os.environ.get("PYTHONPATH")])),
        ),
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_function_in_main_with_a_global_changed_at_run_time():
    out = run_script(
        KERNEL
        + """
import numba
jitted_kernel = numba.njit(kernel)  # a jitted callee made in __main__
OFFSET = 0.0
def shifted(a):
    return jitted_kernel(a) + OFFSET
OFFSET = 2.5
f = jit(use_jit=lambda a: Action.BACKGROUND_JIT)(shifted)
first = f(a)
f.wait_compiled()
print(first == shifted(a), f(a) == numba.njit(shifted)(a), dict(compile_process.outcomes))
"""
    )
    assert out.strip().split(maxsplit=2) == ["True", "True", "{'compiled': 1}"]


def test_the_serving_process_spends_little_cpu_on_a_background_compile():
    out = run_script(
        KERNEL
        + """
import os
def cpu_of_a_compile(mode):
    os.environ["SMART_JIT_COMPILE"] = mode
    f = jit(use_jit=lambda a: Action.BACKGROUND_JIT)(kernel)
    start = time.process_time()
    f(a)
    f.wait_compiled()
    assert f.signatures
    return time.process_time() - start
kernel(a)
process = cpu_of_a_compile("process")  # first: it also pays for the cold start
thread = cpu_of_a_compile("thread")
print(process, thread, dict(compile_process.outcomes))
"""
    )
    process, thread, outcomes = out.split(maxsplit=2)
    assert outcomes.strip() == "{'compiled': 1}"
    assert float(process) < 0.5 * float(thread), out


def alive(pid):
    """Whether *pid* runs (a zombie waiting for its reaper does not)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except FileNotFoundError:
        return False


def gone_within(pid, seconds=PATIENCE):
    deadline = time.monotonic() + seconds
    while alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


STALLED = """
import os, sys, time
from kernels import adds_stall, recursive_functions
from smart_jit import Action, compile_process, jit
f = jit(use_jit=lambda x: Action.BACKGROUND_JIT)(adds_stall)
f(1)
while compile_process.server_pid() is None:
    time.sleep(0.01)
time.sleep(0.2)  # the server is stuck in this compile
print(compile_process.server_pid(), flush=True)
"""


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads /proc to see processes")
@pytest.mark.parametrize("how", ["exits", "sys.exit", "dies"])
def test_the_server_ends_with_its_parent_mid_compile_included(how):
    ending = {"exits": "", "sys.exit": "sys.exit(0)", "dies": "os._exit(0)"}[how]
    pid = int(run_script(STALLED + ending))
    assert gone_within(pid)


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads /proc to see processes")
def test_a_forked_child_uses_a_server_of_its_own():
    out = run_script(
        """
import os, threading
from smart_jit import Action, compile_process, jit
def bg(x):
    return Action.BACKGROUND_JIT
f = jit(use_jit=bg)(lambda x: x + 1)
f(1); f.wait_compiled()
parent_server = compile_process.server_pid()
busy = threading.Thread(target=lambda: [f(i) for i in range(200000)])
busy.start()
read, write = os.pipe()
child = os.fork()
if child == 0:
    g = jit(use_jit=bg)(lambda x: x * 2)
    g(1); g.wait_compiled()
    facts = (g(21), compile_process.server_pid(), compile_process.outcomes["compiled"])
    os.write(write, " ".join(map(str, facts)).encode())
    os._exit(0)
os.waitpid(child, 0)
busy.join()
child_result, child_server, child_compiled = os.read(read, 100).decode().split()
h = jit(use_jit=bg)(lambda x: x - 1)
h(1); h.wait_compiled()
print(child_result, child_compiled, child_server != str(parent_server),
      compile_process.server_pid() == parent_server, h(1), h.signatures != [],
      compile_process.outcomes["compiled"], child_server)
"""
    )
    *facts, child_server = out.split()
    assert facts == ["42", "1", "True", "True", "0", "True", "2"]
    assert gone_within(int(child_server)), "the child's server ends with the child"


def test_stopping_at_exit_kills_a_server_mid_compile():
    out = run_script(
        STALLED + "compile_process._stop_at_exit(); print(f.wait_compiled(30))"
    )  # after the stop: answers at once
    pid, waited = out.split()
    assert waited == "True"
    assert gone_within(int(pid))


def servers():
    """(pid, parent pid) of every compile server on this machine."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                if b"compile_process import _serve" not in cmdline.read():
                    continue
            with open(f"/proc/{entry}/stat") as stat:
                ppid = int(stat.read().rsplit(")", 1)[1].split()[1])
        except (FileNotFoundError, ProcessLookupError, ValueError):
            continue
        if alive(int(entry)):
            found.append((int(entry), ppid))
    return found


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads /proc to see processes")
def test_no_server_outlives_its_parent_after_these_tests():
    """Run last in this file: every server started by the tests above, in
    this process or in the scripts, has a living parent or is gone."""
    for pid, ppid in servers():
        if ppid == os.getpid():
            continue
        assert alive(ppid) or gone_within(pid), f"server {pid} outlived its parent {ppid}"
