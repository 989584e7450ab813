"""Why a call was interpreted: report()."""

from __future__ import annotations

from smart_jit import Action, jit, report


def test_report_table():
    f = jit(lambda a: a, use_jit=lambda a: Action.INTERPRETER)
    assert str(report(f)).endswith("every call ran compiled")
    f(1)
    f(2)
    f(1.5)
    lines = str(report(f)).splitlines()
    assert lines[1].split() == ["calls", "argument", "types", "why", "interpreted"]
    assert lines[2].split()[:2] == ["2", "int64"]
    assert lines[3].split()[:2] == ["1", "float64"]
    assert lines[2].endswith("use_jit returned Action.INTERPRETER")


def test_the_program_report_shows_the_costliest_functions_then_totals():
    from smart_jit.report import SHOWN
    from smart_jit.table import owners

    many = [jit(lambda a: a, use_jit=lambda a: Action.INTERPRETER) for _ in range(SHOWN + 5)]
    for count, f in enumerate(many):
        for _ in range(count + 1):
            f(1)
    text = str(report())
    lines = text.splitlines()
    live = len(owners())
    assert lines[0].startswith(f"smart_jit: {live} smart-jitted functions, stance ")
    assert len(lines) == 2 + SHOWN + 2  # head, header, rows, "... and N more", totals
    assert lines[-2] == f"  ... and {live - SHOWN} more, costing less"
    interpreted = sum(fb.calls for f in owners() for fb in f.fallbacks())
    assert f"; {interpreted} calls interpreted" in lines[-1]


# -- the report as data, as HTML, as a picture ----------------------------------

import json  # noqa: E402
from html.parser import HTMLParser  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from smart_jit import Report, compile_costs, policies  # noqa: E402
from smart_jit.interpreted import REASON_POLICY  # noqa: E402
from smart_jit.log import name_of  # noqa: E402
from smart_jit.report import COMPILED, Row  # noqa: E402


def mixed():
    """Interpreted below zero, compiled above: two reasons, one compile."""

    def negate(a):
        return -a

    f = jit(negate, use_jit=lambda a: Action.INTERPRETER if a < 0 else Action.JIT)
    f(-1), f(-2), f(-0.5), f(3)
    return f


def test_rows_are_typed_records_of_each_signature():
    f = mixed()
    r = report(f)
    assert isinstance(r, Report)
    assert all(type(row) is Row for row in r.rows)
    name = name_of(f)
    (compile_,) = [c for c in compile_costs.compiles_of(f) if not c.failed]
    assert [(str(row.signature[0]), row.action, row.calls, row.reason) for row in r.rows] == [
        ("int64", "INTERPRETER", 2, REASON_POLICY),
        ("float64", "INTERPRETER", 1, REASON_POLICY),
        ("int64", "JIT", None, COMPILED),
    ]
    assert {row.function for row in r.rows} == {name}
    assert r.rows[-1].seconds == compile_.seconds
    assert r.rows[0].seconds is None  # not timed: the policy does not learn
    assert r.title == str(r).splitlines()[0]


def test_rows_carry_the_seconds_a_learning_policy_timed():
    policy = policies.adaptive(compile_cost=60.0)
    f = jit(lambda a: a.sum(), use_jit=policy)
    for _ in range(5):
        f(np.ones(3))
    (row,) = report(f).rows
    (account,) = policy.signatures()
    assert row.calls == 5 and row.seconds == account.interpreted > 0


def test_to_dict_is_json_ready_and_round_trips():
    r = report(mixed())
    data = json.loads(json.dumps(r.to_dict()))
    assert data["title"] == r.title and data["text"] == str(r)
    assert data["rows"][0] == {
        "function": r.rows[0].function,
        "signature": ["int64"],
        "action": "INTERPRETER",
        "calls": 2,
        "seconds": None,
        "reason": REASON_POLICY,
    }
    assert len(data["rows"]) == len(r.rows)


class Table(HTMLParser):
    """The caption, header cells and body rows of an HTML table."""

    def __init__(self):
        super().__init__()
        self.caption, self.head, self.body, self._cell, self._where = "", [], [], None, None

    def handle_starttag(self, tag, attrs):
        if tag in ("thead", "tbody", "caption"):
            self._where = tag
        elif tag == "tr" and self._where == "tbody":
            self.body.append([])
        elif tag in ("th", "td"):
            self._cell = ""

    def handle_endtag(self, tag):
        if tag in ("th", "td"):
            (self.head if tag == "th" else self.body[-1]).append(self._cell)
            self._cell = None
        elif tag in ("thead", "tbody", "caption", "table"):
            self._where = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data
        elif self._where == "caption":
            self.caption += data


def test_the_html_table_has_a_row_per_record_and_escapes_names():
    f = jit(lambda a: a, use_jit=lambda a: Action.INTERPRETER)
    f(1)
    r = report(f)
    table = Table()
    table.feed(r._repr_html_())
    assert table.caption == r.title and "<lambda>" in table.caption  # escaped, then parsed back
    assert table.head == list(Row._fields)
    assert table.body == [[name_of(f), "(int64)", "INTERPRETER", "1", "", REASON_POLICY]]


def test_ipython_shows_the_text():
    from IPython.lib.pretty import pretty

    r = report(mixed())
    assert pretty(r) == str(r) == repr(r)


def test_the_program_report_has_every_functions_rows():
    f, g = mixed(), mixed()
    rows = report().rows
    mine = [row for row in rows if row.function == name_of(f)]
    assert len(mine) == 2 * len(report(f).rows)  # f and g have one name
    assert {id(row) for row in report(g).rows}.isdisjoint(id(row) for row in rows)


# -- the picture ------------------------------------------------------------------

matplotlib = pytest.importorskip("matplotlib")  # the plot extra; installed by make test


@pytest.fixture
def agg():
    matplotlib.use("Agg")
    from matplotlib import pyplot

    yield
    pyplot.close("all")


def summing(a):
    s = 0.0
    for x in a:
        s += x
    return s


def test_the_picture_of_an_adaptive_function(agg, tmp_path):
    policy = policies.adaptive(compile_cost=0.003)
    f = jit(summing, use_jit=policy)
    small, other = np.ones(20), np.ones(1, dtype=np.float32)
    while len(f.signatures) < 1:
        f(small)
    policy.compile_cost = 1e9  # the other signature is interpreted whatever its calls cost
    for _ in range(3):
        f(other)
    figure = report(f).plot()
    top, middle, bottom = figure.axes[:3]  # one panel per signature, then the calls
    accounts = sorted(policy.signatures(), key=lambda a: -a.interpreted_calls)
    assert len(figure.axes) == len(accounts) + 1 == 3
    switched = accounts[0]
    curve, estimate, took, at, point = top.lines
    calls, seconds = curve.get_data()
    assert calls[0] == 0 and calls[-1] == switched.interpreted_calls
    assert list(seconds) == sorted(seconds) and seconds[-1] == switched.interpreted
    assert estimate.get_ydata()[0] == 0.003
    (compiled,) = [c for c in switched.compiles() if not c.failed]
    assert took.get_ydata()[0] == compiled.seconds
    assert at.get_xdata()[0] == switched.switched.call
    assert list(point.get_ydata()) == [switched.switched.interpreted + switched.switched.predicted]
    assert "switched" not in " ".join(t.get_text() for t in middle.get_legend().get_texts())
    bars = {p.get_y(): p.get_width() for p in bottom.patches}
    assert sorted(bars.values()) == sorted(
        [float(switched.interpreted_calls), float(accounts[1].interpreted_calls)]
    )
    labels = [t.get_text() for t in bottom.get_yticklabels()]
    assert labels == ["(array(float64, 1d, C))", "(array(float32, 1d, C))"]
    assert [t.get_text() for t in bottom.texts] == ["JIT"]  # the one compiled signature
    path = tmp_path / "adaptive.png"
    figure.savefig(path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_picture_of_a_function_and_of_the_program(agg):
    f = mixed()
    figure = report(f).plot()
    (ax,) = figure.axes
    widths = sorted(p.get_width() for p in ax.patches)
    assert widths == [1, 2]  # float64: 1 interpreted; int64: 2, and compiled
    program = report().plot()
    (ax,) = program.axes
    assert name_of(f) in [t.get_text() for t in ax.get_yticklabels()]


def test_drawing_on_given_axes(agg):
    from matplotlib import pyplot

    _, ax = pyplot.subplots()
    assert report(mixed()).plot(ax=ax) is ax.figure
    assert len(ax.patches) == 2 and ax.get_legend() is not None


def test_without_matplotlib_plot_says_what_to_install():
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['matplotlib'] = None\n"
        "from smart_jit import jit, report\n"
        "f = jit(lambda a: a)\n"
        "try:\n"
        "    report(f).plot()\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout == (
        "Report.plot() needs matplotlib, which is not installed: "
        "pip install 'numba-smartjit[plot]' (or matplotlib itself)\n"
    )


def test_importing_smart_jit_imports_no_matplotlib_ipython_or_picture():
    import subprocess
    import sys

    code = (
        "import sys, smart_jit\n"
        "f = smart_jit.jit(lambda a: a)\n"
        "f(1); str(smart_jit.report(f)); smart_jit.report(f).rows\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('matplotlib', 'IPython') or m == 'smart_jit.plotting'))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout == "[]\n"
