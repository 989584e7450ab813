"""Every way a user imports the package works in a fresh interpreter, where
the order of imports is the user's, not the test suite's."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import PATIENCE

FORMS = {
    "from_package": "from smart_jit import policies; print(policies.after_calls(1))",
    "attribute": "import smart_jit; print(smart_jit.policies.after_calls(1))",
    "submodule": "import smart_jit.policies as p; print(p.after_calls(1))",
    "from_submodule": "from smart_jit.policies import after_calls; print(after_calls(1))",
    "star": "from smart_jit import *; print(policies.after_calls(1), jit, Action.JIT)",
    "attribute_twice": (
        "import smart_jit; a = smart_jit.policies; from smart_jit import policies; "
        "print(a is policies, policies.after_calls(1))"
    ),
}


@pytest.mark.parametrize("form", sorted(FORMS))
def test_import_form_in_a_fresh_interpreter(form):
    out = subprocess.run(
        [sys.executable, "-c", FORMS[form]], capture_output=True, text=True, timeout=PATIENCE
    )
    assert out.returncode == 0, out.stderr
    assert "after_calls(1)" in out.stdout


def test_unknown_attribute_is_an_attribute_error():
    import smart_jit

    with pytest.raises(AttributeError, match="no attribute 'nonesuch'"):
        smart_jit.nonesuch  # noqa: B018


def test_policies_are_not_imported_by_import_smart_jit():
    code = "import sys, smart_jit; print('smart_jit.policies' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize(
    "code",
    [
        "from smart_jit.policies import adaptive; print(adaptive())",
        "from smart_jit import policies; print(policies.adaptive())",
        "import smart_jit; print(smart_jit.policies.adaptive())",
    ],
)
def test_adaptive_imports_in_a_fresh_interpreter(code):
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=PATIENCE
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "adaptive()"
