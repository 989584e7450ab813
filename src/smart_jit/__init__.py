"""numba-smartjit: ``numba.jit`` with a per-call policy for calls no compiled
overload matches: compile them, run them in the interpreter, or refuse them.

PYTEST_DONT_REWRITE: ``python -m smart_jit run -m pytest`` imports the
package before pytest starts, and pytest would warn that it cannot rewrite
the asserts of a plugin's package (an error under ``filterwarnings = error``).
"""

import importlib

import numba  # noqa: F401  # whole, first: starting from one of its submodules imports it slower

from . import log, stances
from .action import Action
from .decorators import jit, njit, smart_jit
from .dispatcher import SmartDispatcher
from .errors import CompileForbidden, NumbaInterpreterModeWarning, PolicyArgumentError
from .events import INTERPRETER_EXECUTION, JIT_EXECUTION
from .install import install, uninstall
from .interpreted import Fallback
from .report import Report, report
from .stances import set_stance

__all__ = [
    "INTERPRETER_EXECUTION",
    "JIT_EXECUTION",
    "Action",
    "CompileForbidden",
    "Fallback",
    "NumbaInterpreterModeWarning",
    "PolicyArgumentError",
    "Report",
    "SmartDispatcher",
    "install",
    "jit",
    "njit",
    "policies",
    "report",
    "set_stance",
    "smart_jit",
    "uninstall",
]


def __getattr__(name: str) -> object:
    # policies and the version are looked up on first use: `import smart_jit`
    # should cost little more than `import numba`.
    # (``from . import policies`` here would ask this function again, forever.)
    if name == "policies":
        return importlib.import_module(f"{__name__}.policies")
    if name == "__version__":  # one place for it: pyproject.toml, via the metadata
        from importlib.metadata import version

        return version("numba-smartjit")
    raise AttributeError(f"module 'smart_jit' has no attribute {name!r}")


stances.from_environment()  # SMART_JIT_STANCE
log.from_environment()  # SMART_JIT_LOG
