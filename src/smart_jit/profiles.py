"""What ``adaptive()`` learned about a function, kept across runs.

One JSON file per function (data, never a pickle), beside Numba's on-disk
cache: in the directory Numba's cache locator gives the function, with
Numba's own file name base (so ``NUMBA_CACHE_DIR`` applies), or, for a
function Numba cannot cache (defined in ``python -c`` or ``exec``), in the
user's cache directory.  Per argument-type signature it holds the measured
compile seconds, the interpreted seconds per call and per array element,
and the last runs' interpreted calls and seconds and whether they compiled.

A file applies only to the function it was written for: its qualified name,
the source stamp Numba's cache uses, the Numba version and the CPU name
must all match, else it is stale and ignored (and replaced at exit).  A
file that is corrupt, too big, not a regular file, not the user's, or
writable by others is ignored with one warning; nothing about a profile
ever fails a call.

Profiles are read once per function, when ``adaptive()`` first opens an
account for it, and written when the process exits: merged with what other
processes wrote meanwhile under an exclusive lock on a file beside it, then
replaced atomically (a reader sees the old file or the new one).  A location
that cannot be written is skipped without a word.  ``SMART_JIT_PROFILE=0``
turns all of it off.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import marshal
import os
import stat
import sys
import tempfile
import time
import warnings
import weakref
from typing import Any, NamedTuple

from . import forksafe

ENVIRONMENT = "SMART_JIT_PROFILE"
FORMAT = "numba-smartjit profile 1"
SUFFIX = ".smartjit-profile.json"
SIGNATURES = 64  # per function: the most recently used are kept
RUNS = 5  # per signature: the last ones
COMPILES = 5  # per signature: the last measured compile seconds
MAX_BYTES = 256 * 1024  # a file bigger than this is not read
LOCK_PATIENCE = 2.0  # seconds a writer waits for another's lock, then gives up


class Run(NamedTuple):
    """One earlier run's calls of one signature."""

    calls: int  # interpreted
    seconds: float  # interpreted
    compiled: bool  # whether it switched to compiling
    # "many": interpreting them reached the compile's cost; "few": they
    # ended below it; None: it switched early, trusting a prediction.
    verdict: str | None


class Learned(NamedTuple):
    """What earlier runs measured for one signature."""

    compile_seconds: float | None  # the median of the last measured compiles
    compiles: int  # how many compiles that is based on
    per_call: float | None  # interpreted seconds per call
    per_element: float | None  # interpreted seconds per array element
    runs: tuple[Run, ...]  # oldest first


def enabled() -> bool:
    return os.environ.get(ENVIRONMENT, "1").strip() not in ("0", "false", "no", "off")


# -- where, and for what --------------------------------------------------------


def _identity(py_func: Any) -> tuple[str, dict[str, Any]]:
    """The profile's path for *py_func* and the key its content must match."""
    import numba
    from numba.core import config

    name = f"{getattr(py_func, '__module__', '?')}.{py_func.__qualname__}"
    try:
        from numba.core.caching import CompileResultCacheImpl

        impl = CompileResultCacheImpl(py_func)
        folder = impl.locator.get_cache_path()
        base = impl.filename_base
        stamp = repr(impl.locator.get_source_stamp())
    except Exception:  # no source file Numba can cache for: the user's cache directory
        from numba.misc.appdirs import AppDirs

        folder = os.path.join(AppDirs("numba-smartjit", appauthor=False).user_cache_dir, "profiles")
        code = marshal.dumps(py_func.__code__)
        digest = hashlib.sha256(name.encode() + code).hexdigest()[:16]
        base = "".join(c if c.isalnum() or c in "._-" else "_" for c in name) + f"-{digest}"
        base += f".py{sys.version_info[0]}{sys.version_info[1]}"
        stamp = digest
    import llvmlite.binding as llvm

    key = {
        "function": name,
        "source": hashlib.sha256(stamp.encode()).hexdigest()[:32],
        "numba": numba.__version__,
        "cpu": config.CPU_NAME or llvm.get_host_cpu_name(),
    }
    return os.path.join(folder, base + SUFFIX), key


# -- reading ---------------------------------------------------------------------


class _Unusable(Exception):
    """A profile that is there but must not be used (the reason is the message)."""


def _read(path: str) -> dict[str, Any] | None:
    """The file's JSON content; None if there is no file."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise _Unusable(f"cannot be opened: {exc.strerror}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise _Unusable("is not a regular file")
    except BaseException:
        os.close(fd)
        raise
    with os.fdopen(fd, "rb") as file:
        if hasattr(os, "getuid") and info.st_uid != os.getuid():
            raise _Unusable("belongs to another user")
        if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            raise _Unusable("is writable by other users")
        if info.st_size > MAX_BYTES:
            raise _Unusable(f"is bigger than {MAX_BYTES} bytes")
        data = file.read(MAX_BYTES + 1)
    try:
        content = json.loads(data)
    except ValueError as exc:
        raise _Unusable(f"is not JSON ({exc})") from None
    if not isinstance(content, dict) or content.get("format") != FORMAT:
        raise _Unusable("is not a numba-smartjit profile")
    if not isinstance(content.get("signatures"), dict):
        raise _Unusable("has no signatures")
    return content


def _learned(entry: Any) -> Learned | None:
    """One signature's entry, checked; None if it is malformed."""
    try:
        compiles = [float(s) for s in entry.get("compile_seconds", [])][-COMPILES:]
        runs = tuple(
            Run(int(r["calls"]), float(r["seconds"]), bool(r["compiled"]), _verdict(r))
            for r in entry.get("runs", [])
        )[-RUNS:]
        per_call = entry.get("per_call")
        per_element = entry.get("per_element")
        return Learned(
            sorted(compiles)[len(compiles) // 2] if compiles else None,
            len(compiles),
            None if per_call is None else float(per_call),
            None if per_element is None else float(per_element),
            runs,
        )
    except (AttributeError, KeyError, TypeError, ValueError):
        return None


def _verdict(run: dict[str, Any]) -> str | None:
    verdict = run.get("verdict")
    if verdict not in (None, "many", "few"):
        raise ValueError(verdict)
    return verdict


def _warn(name: str, path: str, why: str) -> None:
    from numba.core.errors import NumbaWarning

    warnings.warn(
        f"{name}: the adaptive() profile {path} {why}; it is ignored",
        NumbaWarning,
        stacklevel=2,
    )


# -- one function's profile -----------------------------------------------------


class Profile:
    """One function's profile: what earlier runs learned (read once), and
    what this run's accounts will add (read at exit)."""

    def __init__(self, py_func: Any) -> None:
        self.name = getattr(py_func, "__qualname__", "?")
        self.path: str | None = None
        self.key: dict[str, Any] = {}
        self.earlier: dict[str, Learned] = {}
        self.accounts: list[Any] = []  # this run's, asked at exit
        try:
            self.path, self.key = _identity(py_func)
        except Exception:  # nothing to key a profile by (no code object, say)
            return
        try:
            content = _read(self.path)
        except _Unusable as exc:
            _warn(self.name, self.path, str(exc))
            return
        except Exception as exc:  # whatever it was, a call must not fail for it
            _warn(self.name, self.path, f"could not be read ({type(exc).__name__}: {exc})")
            return
        if content is None or content.get("key") != self.key:
            return  # none yet, or stale: written anew at exit
        for signature, entry in content["signatures"].items():
            learned = _learned(entry)
            if learned is not None:
                self.earlier[signature] = learned

    def learned(self, signature: str) -> Learned | None:
        """What earlier runs learned about *signature* (``str`` of its types)."""
        return self.earlier.get(signature)

    def add(self, account: Any) -> None:
        """An account of this run, whose ``profile_entry()`` is written at exit
        (called under ``adaptive``'s lock: no lock here, an append is atomic)."""
        self.accounts.append(weakref.ref(account))

    def write(self) -> None:
        """Merge this run's entries into the file, under its lock."""
        entries = {}
        for ref in self.accounts:
            account = ref()
            entry = None if account is None else account.profile_entry()
            if entry is not None:
                entries[entry[0]] = entry[1]
        if not entries or self.path is None:
            return
        try:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            with _Locked(self.path + ".lock") as locked:
                if locked:
                    _merge_and_replace(self.path, self.key, entries)
        except OSError:
            pass  # a read-only location: nothing is kept, nothing fails


class _Locked:
    """An exclusive ``flock`` on *path*, waited for at most ``LOCK_PATIENCE``
    seconds (false then: the write is skipped); without ``fcntl``, no lock."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.fd = -1

    def __enter__(self) -> bool:
        try:
            import fcntl
        except ImportError:
            return True
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        deadline = time.monotonic() + LOCK_PATIENCE
        while True:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                if time.monotonic() > deadline:
                    return False
                time.sleep(0.01)

    def __exit__(self, *exc: Any) -> None:
        if self.fd >= 0:
            os.close(self.fd)  # releases the lock


def _merge_and_replace(path: str, key: dict[str, Any], entries: dict[str, Any]) -> None:
    try:
        content = _read(path)
    except _Unusable:
        content = None  # replaced by a good one
    signatures: dict[str, Any] = {}
    if content is not None and content.get("key") == key:
        signatures = {k: v for k, v in content["signatures"].items() if isinstance(v, dict)}
    now = time.time()
    for signature, entry in entries.items():
        old = signatures.get(signature, {})
        compiles = [*_floats(old.get("compile_seconds")), *entry["compile_seconds"]]
        runs = [*(old.get("runs") or [])[-RUNS:], entry["run"]]
        signatures[signature] = {
            "compile_seconds": compiles[-COMPILES:],
            "per_call": entry["per_call"] if entry["per_call"] is not None else old.get("per_call"),
            "per_element": entry["per_element"]
            if entry["per_element"] is not None
            else old.get("per_element"),
            "runs": runs[-RUNS:],
            "used": now,
        }
    kept = sorted(signatures.items(), key=lambda kv: -float(kv[1].get("used") or 0))
    content = {"format": FORMAT, "key": key, "signatures": dict(kept[:SIGNATURES])}
    folder = os.path.dirname(path)
    fd, temporary = tempfile.mkstemp(dir=folder, prefix=".profile-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as file:
            json.dump(content, file, indent=1)
        os.replace(temporary, path)  # atomic: readers see the old file or this one
    except BaseException:
        os.unlink(temporary)
        raise


def _floats(values: Any) -> list[float]:
    try:
        return [float(v) for v in values or ()]
    except (TypeError, ValueError):
        return []


# -- the process's profiles -------------------------------------------------------

_lock = forksafe.lock()
_profiles: weakref.WeakKeyDictionary[Any, Profile] = weakref.WeakKeyDictionary()
_live: list[Profile] = []  # written at exit, even if their functions are gone


def of(py_func: Any) -> Profile | None:
    """*py_func*'s profile, read on first use; None when profiles are off."""
    if not enabled():
        return None
    found = _profiles.get(py_func)
    if found is None:
        made = Profile(py_func)  # reads the file: outside the lock
        with _lock:
            found = _profiles.setdefault(py_func, made)
            if found is made:
                _live.append(made)
    return found


def write_all() -> None:
    """Write every profile this process has, merged with the files' content."""
    if not enabled():
        return
    with _lock:
        profiles = list(_live)
    for profile in profiles:
        try:
            profile.write()
        except Exception:  # never fail the exit of the user's program
            pass


def _forget_in_child() -> None:
    # A forked child writes what it learned itself, its parent's accounts once.
    for profile in list(_live):
        profile.accounts = []


forksafe.in_child(_forget_in_child)
atexit.register(write_all)
