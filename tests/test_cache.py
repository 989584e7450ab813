"""cache=True: Numba's on-disk cache is consulted before the policy, across processes."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
from conftest import PATIENCE


def cache_env(cache_dir, module_dir):
    """The environment for a process using *cache_dir*, importing from *module_dir*."""
    path = os.pathsep.join(filter(None, [str(module_dir), os.environ.get("PYTHONPATH")]))
    return dict(os.environ, NUMBA_CACHE_DIR=str(cache_dir), PYTHONPATH=path)


MODULE = textwrap.dedent(
    """
    from smart_jit import Action, jit

    ACTION = Action.JIT

    def use_jit(a):
        print(f'called "use_jit" with {a}')
        return ACTION

    @jit(use_jit=use_jit, cache=True)
    def incr(a):
        return a + 1
    """
)


@pytest.fixture
def example(tmp_path):
    (tmp_path / "example.py").write_text(MODULE)
    env = cache_env(tmp_path / "cache", tmp_path)

    def run(code):
        out = subprocess.run(
            [sys.executable, "-c", "from example import *\n" + textwrap.dedent(code)],
            env=env,
            capture_output=True,
            text=True,
            cwd=tmp_path,
            check=True,
        )
        return out.stdout

    return run


def test_seed_cache_example_across_processes(example):
    assert example("print(incr(4))") == 'called "use_jit" with 4\n5\n'
    assert example("print(incr(4)); print(incr(1.23))") == ('5\ncalled "use_jit" with 1.23\n2.23\n')
    assert example("print(incr(1.23)); print(incr.signatures)") == "2.23\n[(float64,)]\n"


def test_a_cache_written_by_another_process_is_found(example, tmp_path):
    code = """
        import subprocess, sys
        import example
        print(incr(1.5))  # compiled and cached: the index file exists from here on
        example.ACTION = Action.INTERPRETER
        print(incr(4))
        print(incr(4))
        subprocess.run([sys.executable, "-c", "from example import incr; incr(4)"], check=True,
                       capture_output=True)
        print(incr(4))
        print(incr.signatures, incr.stats.cache_hits)
    """
    out = example(code).splitlines()
    assert out == [
        'called "use_jit" with 1.5',
        "2.5",
        'called "use_jit" with 4',
        "5",
        'called "use_jit" with 4',
        "5",
        "5",
        "[(float64,), (int64,)] Counter({(int64,): 1})",
    ]


# -- faults: every call still returns the right answer -------------------------

FAULTY = textwrap.dedent(
    """
    import warnings
    warnings.simplefilter("always")
    from smart_jit import Action, jit

    @jit(use_jit=lambda a: Action.JIT, cache=True)
    def incr(a):
        return a + 1
    """
)


def run_python(code, env, cwd):
    """Run *code* in a fresh interpreter; it must succeed."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env,
        capture_output=True,
        text=True,
        cwd=cwd,
        check=True,
    )


def write_once(path, text):
    """Numba before 0.68 stamps a source file by (mtime, size): rewriting it,
    even with the same text, would throw its cache index away."""
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def run_module(tmp_path, cache_dir, code):
    write_once(tmp_path / "faulty.py", FAULTY)
    env = cache_env(cache_dir, tmp_path)
    return subprocess.run(
        [sys.executable, "-c", "from faulty import *\n" + textwrap.dedent(code)],
        env=env,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=PATIENCE,
    )


def index_files(cache_dir):
    return sorted(cache_dir.rglob("*.nbi"))


def test_cache_directory_that_cannot_be_created_falls_back_like_numba(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    code = "print(incr(1), incr(2.5), incr.stats.cache_hits)"
    first = run_module(tmp_path, blocker / "cache", code)
    assert first.returncode == 0, first.stderr
    assert first.stdout.split() == ["2", "3.5", "Counter()"]
    second = run_module(tmp_path, blocker / "cache", code)
    assert second.stdout.startswith("2 3.5 Counter({"), "Numba's next locator was used"


def test_no_writable_cache_directory_anywhere(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    (tmp_path / "__pycache__").write_text("not a directory either")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker / "xdg"))
    monkeypatch.setenv("HOME", str(blocker / "home"))
    out = run_module(tmp_path, blocker / "cache", "print(incr(1), incr(2.5), incr(1))")
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["2", "3.5", "2"]
    assert "on-disk cache is unavailable" in out.stderr


@pytest.mark.parametrize("damage", [b"", b"\x80garbage", b"\x80\x04K"])
def test_damaged_index_file(tmp_path, damage):
    cache = tmp_path / "cache"
    assert run_module(tmp_path, cache, "print(incr(1))").stdout == "2\n"
    [index] = index_files(cache)
    index.write_bytes(damage)
    out = run_module(tmp_path, cache, "print(incr(1), incr(2.5), incr(1))")
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["2", "3.5", "2"]
    assert "on-disk cache could not be" in out.stderr


def test_cache_directory_deleted_while_running(tmp_path):
    cache = tmp_path / "cache"
    out = run_module(
        tmp_path,
        cache,
        f"""
        import shutil
        print(incr(1))
        shutil.rmtree({str(cache)!r})
        print(incr(2.5), incr(1), incr(3))
        """,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["2", "3.5", "2", "4"]
    assert index_files(cache), "the cache was written again"


def test_two_processes_compiling_at_once(tmp_path):
    cache = tmp_path / "cache"
    write_once(tmp_path / "faulty.py", FAULTY)
    env = cache_env(cache, tmp_path)
    code = "from faulty import incr\nprint(incr(41), incr(0.5))"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=PATIENCE) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    assert [o[0].split() for o in outputs] == [["42", "1.5"], ["42", "1.5"]]
    third = run_module(tmp_path, cache, "print(incr(41), incr.stats.cache_hits)")
    assert third.stdout.startswith("42 Counter({(int64,): 1})"), third.stdout


def test_a_remembered_miss_does_not_read_the_disk_again(example):
    code = """
        import example
        example.ACTION = Action.INTERPRETER
        reads = []
        load = incr._cache.load_overload
        incr._cache.load_overload = lambda *a: reads.append(a) or load(*a)
        for _ in range(10):
            incr(4)
        print(len(reads))
    """
    assert example(code).splitlines()[-1] == "1"


def test_redeploying_the_same_source_keeps_the_cache_from_numba_0_68(tmp_path):
    """Numba 0.68 stamps the source by its content hash; before, by (mtime,
    size), so an identical file written again loses its cache (docs/how-it-works.md)."""
    import numba

    cache = tmp_path / "cache"
    code = "print(incr(1), incr.stats.cache_hits)"
    assert run_module(tmp_path, cache, code).stdout.split() == ["2", "Counter()"]
    source = tmp_path / "faulty.py"
    source.write_text(FAULTY)
    later = source.stat().st_mtime + 10
    os.utime(source, (later, later))
    out = run_module(tmp_path, cache, code)
    assert out.returncode == 0, out.stderr
    numba_minor = tuple(int(part) for part in numba.__version__.split(".")[:2])
    kept = "Counter({(int64,): 1})"
    assert out.stdout.strip() == (f"2 {kept}" if numba_minor >= (0, 68) else "2 Counter()")


CLOSURES = textwrap.dedent(
    """
    from smart_jit import Action, jit

    def make(offset):
        @jit(use_jit=lambda a: Action.INTERPRETER, cache=True)
        def shifted(a):
            return a + offset[1]
        return shifted

    def make_over_list(items):
        @jit(use_jit=lambda a: Action.INTERPRETER, cache=True)
        def counted(a):
            return a + len(items)
        return counted

    def reads_during(f, calls):
        reads = []
        load = f._cache.load_overload
        f._cache.load_overload = lambda *a: reads.append(a) or load(*a)
        for value in calls:
            f(value)
        return len(reads)
    """
)


def test_a_closure_over_immutable_values_remembers_a_miss(tmp_path):
    """Numba's cache key hashes the pickled cells: while they hold the same
    immutable objects a miss stays a miss; a closure over a list (which may
    change in place) is looked up every time, as in Numba."""
    (tmp_path / "closures.py").write_text(CLOSURES)
    env = cache_env(tmp_path / "cache", tmp_path)
    code = """
        from closures import make, make_over_list, reads_during
        print(reads_during(make(("k", 2.5)), [4] * 10))
        print(reads_during(make_over_list([1, 2]), [4] * 10))
    """
    out = run_python(code, env, tmp_path)
    assert out.stdout.split() == ["1", "10"]


def test_a_rebound_cell_is_looked_up_again(tmp_path):
    (tmp_path / "rebound.py").write_text(
        textwrap.dedent(
            """
            from smart_jit import Action, jit
            offset = 1
            def make():
                scale = 1
                @jit(use_jit=lambda a: Action.INTERPRETER, cache=True)
                def scaled(a):
                    return a * scale
                def rebind(value):
                    nonlocal scale
                    scale = value
                return scaled, rebind
            """
        )
    )
    env = cache_env(tmp_path / "cache", tmp_path)
    code = """
        from rebound import make
        f, rebind = make()
        reads = []
        load = f._cache.load_overload
        f._cache.load_overload = lambda *a: reads.append(a) or load(*a)
        f(2); f(2)
        rebind(3)
        print(f(2), len(reads))
    """
    out = run_python(code, env, tmp_path)
    assert out.stdout.split() == ["6", "2"]
