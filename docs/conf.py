"""Sphinx configuration for numba-smartjit's documentation (``make docs``).

Pages are Markdown (MyST); the API reference is autodoc over the package's
numpydoc-style docstrings (napoleon); the performance tables are made at
build time from the benchmarks' JSON results in ``docs/results/``
(``make bench`` writes them to ``.bench/``; ``make docs-results`` copies
them here).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.metadata import version as installed_version
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import tables  # noqa: E402  # docs/tables.py: the performance tables from JSON

project = "numba-smartjit"
author = "numba-smartjit developers"
copyright = "2026, numba-smartjit developers"
release = installed_version("numba-smartjit")
version = ".".join(release.split(".")[:2])

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
]
source_suffix = {".md": "markdown"}
exclude_patterns = ["_build", "results", "_generated", "figures"]  # included, or run
myst_enable_extensions = ["colon_fence"]
myst_heading_anchors = 3

# Warnings are errors (make docs runs sphinx -W) and every reference must
# resolve (-n); names of Numba and the standard library are not documented
# here and have no inventory offline, so they are named, not linked.
nitpicky = True
nitpick_ignore_regex = [
    (r"py:.*", r"(numba|numpy|np|collections|concurrent|typing|types|logging|matplotlib)\b.*"),
    (r"py:class", r"(Callable|Any|F|P|R|T|Action\w*|Iterable|Iterator|Sequence|optional)"),
    # Type aliases and a learning policy's per-signature account: internal
    # names the signatures show, described in the text.
    (r"py:class", r"(SmartFunction|Signatures|smart_jit\.(adaptive|protocols)\.Account)"),
    # numpydoc's words in a parameter's type: "int, default 0", "callable".
    (r"py:class", r"(default\b.*|callable|function|Signature|policy)"),
]
autodoc_typehints = "description"
autodoc_member_order = "bysource"
napoleon_google_docstring = False
napoleon_numpy_docstring = True

html_theme = "pydata_sphinx_theme"
html_title = f"numba-smartjit {release}"
html_theme_options = {
    "navigation_depth": 2,
    "header_links_before_dropdown": 5,
    "show_nav_level": 2,
    "secondary_sidebar_items": ["page-toc"],
}
html_sidebars = {"**": ["sidebar-nav-bs"]}


def _write_performance_tables(app: object) -> None:
    results = HERE / "results"
    found = {path.stem: json.loads(path.read_text()) for path in sorted(results.glob("*.json"))}
    (HERE / "_generated").mkdir(exist_ok=True)
    (HERE / "_generated" / "performance.md").write_text(tables.render(found))


def _draw_figures(app: object) -> None:
    """Each script in docs/figures/ draws its picture from a real run, into
    _generated/ (a failing script fails the build)."""
    generated = HERE / "_generated"
    generated.mkdir(exist_ok=True)
    for script in sorted((HERE / "figures").glob("*.py")):
        picture = generated / f"{script.stem}.png"
        # A first run: no profile of an earlier one (adaptive() across runs).
        env = dict(os.environ, SMART_JIT_PROFILE="0")
        subprocess.run([sys.executable, str(script), str(picture)], check=True, env=env,
                       stdout=subprocess.DEVNULL)  # fmt: skip


def setup(app: object) -> None:
    app.connect("builder-inited", _write_performance_tables)  # type: ignore[attr-defined]
    app.connect("builder-inited", _draw_figures)  # type: ignore[attr-defined]
