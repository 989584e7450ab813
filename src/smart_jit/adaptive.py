"""``policies.adaptive()``: interpret until interpreting has cost what compiling would.

The ski-rental rule, per argument-type signature: while the time spent
interpreting calls of these types, plus what this call is predicted to cost, is
below the compile's estimated cost, interpret; then compile.  Whatever the
calls turn out to be, the total is then at most twice the better of "compile at
once" and "never compile", if the estimate is right (and within 1 + the
estimate's error factor when it is not).

The dispatcher serves this policy what it needs (``protocols.LearningPolicy``):
``account_for(dispatcher, argtypes, folded)`` is asked once per signature, and
the ``Account`` it returns is asked in the policy's place from then on, with
the argument types already computed, and told the time of each interpreted
call of those types (measured only for functions whose policy learns).
Compile costs come from ``compile_costs``.

Across runs (``profiles``): a signature's measured compile seconds replace
the bytecode prediction, its interpreted seconds per call (or per element)
replace the priors, and the last runs' calls predict this run's horizon.
That prediction makes the rule the learning-augmented one (Purohit,
Svitkina and Kumar, NeurIPS 2018, the randomized algorithm, continuous):
when earlier runs' interpreted time reached the compile's cost ("many
calls"), compile once interpreting has cost ``t``, drawn in ``[0, TRUST x
cost]`` with density proportional to ``exp(t / cost)``; when it stayed below
("few"), likewise in ``[0, cost / TRUST]``.  In expectation the total is
then at most ``TRUST / (1 - exp(-TRUST))`` = 1.23x the better choice in
hindsight when the prediction is right (consistency), and at most
``1 / (1 - exp(-TRUST))`` = 2.86x whatever the calls turn out to be
(robustness), with ``TRUST`` = 0.43, if the compile costs what was
measured.  The draw is a hash of the function, the signature and how many
runs the profile holds: the same run decides the same way, the next one
draws again.
"""

from __future__ import annotations

import hashlib
import math
import numbers
import weakref
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
from numba.core import types

from . import compile_costs, forksafe, log, profiles
from .action import Action
from .argtypes import typeof_arg

# Before a signature's first timed call: seconds per array element, for a
# function whose bytecode loops (a Python loop over elements costs 0.2 to 1 us
# per element, measured) and for one that does not (NumPy's own speed).
PRIOR_PER_ELEMENT_LOOPING = 2e-7
PRIOR_PER_ELEMENT = 2e-9
PRIOR_PER_CALL = 2e-6
DEFAULT_COMPILE_COST = 0.5  # seconds, for a policy used outside a dispatcher
# The learning-augmented rule's lambda: how far a prediction from earlier runs
# moves the switch (see the module's docstring).  0.43 keeps both expected
# ratios within what benchmarks/policies.py targets (1.25x, 3x).
TRUST = 0.43
MANY, FEW = "many", "few"  # what earlier runs predict of this run's calls

_JIT, _INTERPRETER = Action.JIT, Action.INTERPRETER
# One lock for every adaptive policy: held for a few additions, never while
# calling out.
_lock = forksafe.lock()


class Switch(NamedTuple):
    """When and why a signature switched to compiling."""

    call: int  # the call that switched, counting from 1
    interpreted: float  # seconds interpreted before it
    predicted: float  # what that call was predicted to cost interpreted
    estimate: compile_costs.Estimate
    factor: float = 1.0  # of the estimate, where it switched (earlier runs' prediction)


class adaptive:
    """Interpret each argument-type signature until the time spent interpreting
    it reaches what compiling it is estimated to cost, then compile it.

    Parameters
    ----------
    compile_cost : float, optional
        Seconds a compile of this function costs, when you know better than
        the estimate: by default, this function's earlier compiles in this
        process when there are any, else a prediction from its bytecode.

    Notes
    -----
    ``jit(use_jit=adaptive())``: one instance per function, like
    ``after_calls``.  A call predicted to cost more than the compile by
    itself (a huge array, from the time per element of earlier calls)
    compiles at once.  If the estimate is right, the total time is at most
    twice that of the better of "compile at once" and "never compile" chosen
    in hindsight (deterministic ski rental).

    Interpreted calls are timed by the dispatcher; used anywhere else (inside
    another policy), each call counts as its predicted cost.  Pickles its
    options, not what it learned.  ``report(f)`` shows what it learned.

    What it measured is kept across runs in a profile beside Numba's cache
    (a JSON file per function): a later run uses the measured compile cost
    and the earlier runs' calls, compiling sooner when they were many and
    later when they were few (in expectation at most 1.23x the better
    choice when that prediction is right, 2.86x when it is wrong).
    ``SMART_JIT_PROFILE=0`` turns it off.
    """

    def __init__(self, compile_cost: float | None = None) -> None:
        if compile_cost is not None:
            message = (
                f"adaptive() compile_cost must be a non-negative number of seconds, "
                f"got {compile_cost!r}"
            )
            if not isinstance(compile_cost, numbers.Real) or isinstance(compile_cost, bool):
                raise TypeError(message)
            if not compile_cost >= 0:
                raise ValueError(message)
        self.compile_cost = None if compile_cost is None else float(compile_cost)
        self._signatures: dict[tuple[Any, ...], Account] = {}

    def account_for(
        self, dispatcher: Any, argtypes: tuple[Any, ...], folded: tuple[Any, ...]
    ) -> Account:
        """The account of calls of *dispatcher* with these types."""
        found = self._signatures.get(argtypes)
        if found is None:
            # Read outside the lock: it may read a file, and takes a lock of its own.
            profile = None if dispatcher is None else profiles.of(dispatcher.py_func)
            with _lock:
                found = self._signatures.get(argtypes)
                if found is None:
                    found = Account(self, dispatcher, argtypes, folded, profile)
                    self._signatures[argtypes] = found
        return found

    def __call__(self, *args: Any) -> Action:
        argtypes = tuple(map(typeof_arg, args))
        return self.account_for(None, argtypes, argtypes)(*args)

    def signatures(self) -> list[Account]:
        """What was learned, per signature, in the order first seen."""
        return list(self._signatures.values())

    def report(self) -> str:
        """Per signature: time interpreted, the compile estimate, when and why
        it switched.  ``smart_jit.report(f)`` includes it."""
        lines = [f"{self!r}: per argument types"]
        lines += [f"  {line}" for s in self.signatures() for line in s.describe()]
        if len(lines) == 1:
            lines.append("  no call has asked it yet")
        return "\n".join(lines)

    def _rate_elsewhere(self, exclude: Account) -> float | None:
        """Seconds per element measured for other signatures of the function."""
        rates = [s.rate() for s in self.signatures() if s is not exclude]
        known = [r for r in rates if r is not None]
        return max(known) if known else None

    def __getstate__(self) -> dict[str, Any]:
        return {"compile_cost": self.compile_cost}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["compile_cost"])  # type: ignore[misc]

    def __repr__(self) -> str:
        cost = "" if self.compile_cost is None else f"compile_cost={self.compile_cost:g}"
        return f"adaptive({cost})"


class Trace:
    """Cumulative interpreted seconds after some of a signature's calls, for
    ``report(f).plot()``: at most ``POINTS`` of them, evenly spaced over the
    calls so far (every call at first; each time it fills, every other
    point is dropped and the spacing doubles)."""

    POINTS = 512
    __slots__ = ("calls", "seconds", "_every")

    def __init__(self) -> None:
        self.calls: list[int] = []
        self.seconds: list[float] = []
        self._every = 1

    def add(self, calls: int, seconds: float) -> int:
        """Keep the total after call number *calls*; the call whose total
        to keep next."""
        self.calls.append(calls)
        self.seconds.append(seconds)
        if len(self.calls) >= self.POINTS:
            del self.calls[1::2], self.seconds[1::2]
            self._every *= 2
        return calls + self._every


class Account:
    """The ski-rental account of one argument-type signature."""

    def __init__(
        self,
        policy: adaptive,
        dispatcher: Any,
        argtypes: tuple[Any, ...],
        folded: tuple[Any, ...],
        profile: profiles.Profile | None = None,
    ) -> None:
        self.policy = policy
        self.argtypes = argtypes
        self.folded = folded
        self._dispatcher = None if dispatcher is None else weakref.ref(dispatcher)
        self.timed = dispatcher is not None  # the dispatcher times interpreted calls
        self.arrays = tuple(i for i, t in enumerate(argtypes) if isinstance(t, types.Array))
        self.asked = 0  # calls that asked
        self.interpreted_calls = 0
        self.interpreted = 0.0  # seconds
        self.elements = 0  # array elements of the interpreted calls
        self.switched: Switch | None = None
        self.trace = Trace()
        self.trace_at = 1  # the interpreted call whose total the trace keeps next
        self._estimate: compile_costs.Estimate | None = None
        self._estimated_at = -1
        self._limit = 0.0  # interpreted seconds at which to switch: the estimate x factor
        self._loops: bool | None = None
        # What earlier runs learned (profiles), and what it makes of the switch.
        self.learned: profiles.Learned | None = None
        if profile is not None:
            self.learned = profile.learned(log.signature_of(argtypes))
            profile.add(self)
        self.prediction = predicted_calls(self.learned)
        self.factor = 1.0  # of the compile estimate, where to switch
        if self.prediction is not None and self.learned is not None:
            seed = f"{log.name_of(dispatcher)}{argtypes}{len(self.learned.runs)}"
            self.factor = switch_factor(self.prediction, _uniform(seed))

    # -- the decision ----------------------------------------------------------

    def __call__(self, *args: Any) -> Action:
        # Asked on every interpreted call of a learning function: the common
        # case (an estimate still valid, no arrays, calls timed) is inline.
        estimate = self._estimate
        if estimate is None or self._estimated_at != compile_costs.generation():
            estimate = self.estimate()
        elements = self._elements(args) if self.arrays else 0
        calls = self.interpreted_calls
        if calls and self.timed and not elements:
            predicted = self.interpreted / calls
        else:
            predicted = self.predict(elements)
        with _lock:
            self.asked += 1
            if self.interpreted + predicted < self._limit:
                if not self.timed:  # nobody will time it: count what it should cost
                    self._add(predicted, elements)
                return _INTERPRETER
            if self.switched is not None:
                return _JIT
            self.switched = switch = Switch(
                self.asked, self.interpreted, predicted, estimate, self.factor
            )
        log.switched(self.dispatcher() or self.policy, self.argtypes, switch)
        return _JIT

    def interpreted_call(self, args: tuple[Any, ...], seconds: float) -> None:
        """The dispatcher ran a call of these types in the interpreter."""
        elements = self._elements(args) if self.arrays else 0
        with _lock:  # _add, inline: this runs after every timed interpreted call
            self.interpreted_calls += 1
            self.interpreted += seconds
            self.elements += elements
            if self.interpreted_calls >= self.trace_at:
                self.trace_at = self.trace.add(self.interpreted_calls, self.interpreted)

    def _add(self, seconds: float, elements: int) -> None:
        self.interpreted_calls += 1
        self.interpreted += seconds
        self.elements += elements
        if self.interpreted_calls >= self.trace_at:
            self.trace_at = self.trace.add(self.interpreted_calls, self.interpreted)

    def _elements(self, args: tuple[Any, ...]) -> int:
        total = 0
        for i in self.arrays:
            value = args[i] if i < len(args) else None
            if isinstance(value, np.ndarray):
                total += value.size
        return total

    # -- what a call and a compile cost ----------------------------------------

    def rate(self) -> float | None:
        """Seconds per array element, from this signature's interpreted calls."""
        if self.elements and self.interpreted_calls and self.timed:
            return self.interpreted / self.elements
        return None

    def predict(self, elements: int) -> float:
        """What the next call, with *elements* array elements, will cost interpreted."""
        calls = self.interpreted_calls
        if calls and self.timed:
            if elements and self.elements:
                return self.interpreted / self.elements * elements
            return self.interpreted / calls
        learned = self.learned
        if learned is not None:  # measured in earlier runs
            if elements and learned.per_element is not None:
                return learned.per_element * elements
            if learned.per_call is not None:
                return learned.per_call
        if not elements:
            return PRIOR_PER_CALL
        rate = self.policy._rate_elsewhere(self)
        if rate is None:
            rate = PRIOR_PER_ELEMENT_LOOPING if self._loops_in_function() else PRIOR_PER_ELEMENT
        return PRIOR_PER_CALL + rate * elements

    def _loops_in_function(self) -> bool:
        if self._loops is None:
            dispatcher = self.dispatcher()
            func = getattr(dispatcher, "py_func", None)
            self._loops = func is None or compile_costs.features(func).loops > 0
        return self._loops

    def estimate(self) -> compile_costs.Estimate:
        """What compiling these types will cost; re-estimated after any compile."""
        cost = self.policy.compile_cost
        generation = compile_costs.generation()
        if cost is not None:
            found = compile_costs.Estimate(cost, "compile_cost given to adaptive()")
            self._estimate, self._estimated_at = found, generation
        elif self._estimate is None or self._estimated_at != generation:
            dispatcher = self.dispatcher()
            if dispatcher is None:
                found = compile_costs.Estimate(DEFAULT_COMPILE_COST, "no function to predict from")
            else:
                learned = self.learned
                earlier = None
                if learned is not None and learned.compile_seconds is not None:
                    earlier = (learned.compile_seconds, learned.compiles)
                found = compile_costs.estimate(dispatcher, earlier)
            self._estimate, self._estimated_at = found, generation
        self._limit = self._estimate.seconds * self.factor
        return self._estimate

    def dispatcher(self) -> Any:
        return None if self._dispatcher is None else self._dispatcher()

    # -- across runs -----------------------------------------------------------

    def profile_entry(self) -> tuple[str, dict[str, Any]] | None:
        """What this run adds to the profile (``profiles``), asked at exit;
        None if it has nothing to add."""
        if not self.timed or not self.asked:
            return None
        calls, seconds = self.interpreted_calls, self.interpreted
        if self.switched is not None:  # did interpreting reach the compile's cost?
            verdict = MANY if self.factor >= 1.0 else None  # early: it cannot tell
        else:
            verdict = MANY if seconds >= self.estimate().seconds else FEW
        entry = {
            "compile_seconds": [
                compile_costs.own_seconds(c) for c in self.compiles() if not c.failed
            ],
            "per_call": seconds / calls if calls else None,
            "per_element": seconds / self.elements if self.elements else None,
            "run": {
                "calls": calls,
                "seconds": seconds,
                "compiled": self.switched is not None,
                "verdict": verdict,
            },
        }
        return log.signature_of(self.argtypes), entry

    # -- the report ------------------------------------------------------------

    def compiles(self) -> list[compile_costs.Compile]:
        dispatcher = self.dispatcher()
        if dispatcher is None:
            return []
        return [c for c in compile_costs.compiles_of(dispatcher) if c.argtypes == self.folded]

    def describe(self) -> list[str]:
        """Lines for ``report``: what was spent, the estimate, the switch."""
        calls = self.interpreted_calls
        how = "" if self.timed else ", predicted: not timed"
        head = (
            f"{', '.join(map(str, self.argtypes))}: {calls} call{'s' if calls != 1 else ''} "
            f"interpreted ({self.interpreted:.3g} s{how})"
        )
        switched = self.switched
        if switched is None:
            estimate = self.estimate()
            return [
                f"{head}; interpreting until {estimate.seconds * self.factor:.3g} s",
                f"  estimate: {estimate.basis}",
            ]
        estimate = switched.estimate
        limit = estimate.seconds * switched.factor
        why = (
            "that call alone was predicted to cost more than the compile"
            if switched.predicted >= limit
            else "interpreted time reached the compile estimate"
        )
        if switched.factor != 1.0:
            why += f" x {switched.factor:.2g} (earlier runs' prediction)"
        lines = [
            f"{head}; switched to JIT at call {switched.call}",
            f"  why: {why} ({switched.interpreted:.3g} s interpreted + {switched.predicted:.3g} s "
            f"predicted for the call >= {limit:.3g} s)",
            f"  estimate: {estimate.basis}",
        ]
        done = self.compiles()
        if done:
            last = done[-1]
            lines.append(
                f"  compile: {'failed after' if last.failed else 'took'} {last.seconds:.3g} s"
            )
        return lines + self._earlier_runs()

    def _earlier_runs(self) -> list[str]:
        learned = self.learned
        if learned is None:
            return []
        facts = [f"{len(learned.runs)} run(s)"]
        if learned.compile_seconds is not None:
            facts.append(f"compile {learned.compile_seconds:.3g} s")
        if learned.per_call is not None:
            facts.append(f"{learned.per_call:.3g} s per interpreted call")
        if self.prediction is None:
            use = "no prediction of this run's calls"
        else:
            use = (
                f"they predict {self.prediction} calls: switching at {self.factor:.2g}x "
                f"the compile estimate"
            )
        return [f"  from earlier runs: {', '.join(facts)}; {use}"]


def switch_factor(prediction: str, u: float) -> float:
    """Where to switch, as a factor of the compile estimate, for *u* drawn
    uniformly in [0, 1): the inverse of the randomized learning-augmented
    rule's distribution, density proportional to exp(t) on [0, TRUST]
    ("many") or on [0, 1 / TRUST] ("few")."""
    end = TRUST if prediction == MANY else 1 / TRUST
    return math.log1p(u * math.expm1(end))


def _uniform(seed: str) -> float:
    """A number in [0, 1) that *seed* decides (not Python's salted ``hash``)."""
    digest = hashlib.sha256(seed.encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def predicted_calls(learned: profiles.Learned | None) -> str | None:
    """``MANY`` or ``FEW``: what the latest earlier run that could tell
    says of the horizon (a run that switched early, trusting a prediction,
    cannot); None without one."""
    for run in reversed(learned.runs if learned is not None else ()):
        if run.verdict is not None:
            return run.verdict
    return None


if TYPE_CHECKING:  # mypy checks the policy against the hooks the dispatcher uses
    from . import protocols

    _learns: type[protocols.LearningPolicy] = adaptive
    _accounts: type[protocols.Account] = Account
