"""The package's layers, read from its source: modules below the dispatcher
take what they need as arguments and never reach back into it."""

import ast
import re
from pathlib import Path

import pytest

import smart_jit

PACKAGE = Path(smart_jit.__file__).parent
MODULES = sorted(PACKAGE.glob("*.py"))
# The dispatcher, and what builds on it: the decorators, install, the report and
# its picture, the command line, the package's namespace.
ABOVE = {"dispatcher", "decorators", "install", "report", "plotting", "__main__", "__init__"}
BELOW = [path for path in MODULES if path.stem not in ABOVE]


def imported_modules(tree):
    """The package's modules a module imports, at its top or in a function."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                found.add(node.module.split(".")[0])
            else:
                found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("smart_jit."):
                    found.add(alias.name.split(".")[1])
    return found


def test_the_layers_below_are_the_whole_package_but_the_top():
    assert {p.stem for p in BELOW} >= {
        "argtypes",
        "background",
        "conversions",
        "interpreted",
        "pickling",
        "records",
        "shipping",
        "table",
        "diskcache",
        "compile_process",
    }


@pytest.mark.parametrize("path", BELOW, ids=lambda p: p.stem)
def test_a_module_below_the_dispatcher_never_imports_it_or_what_builds_on_it(path):
    imports = imported_modules(ast.parse(path.read_text()))
    assert not imports & ABOVE, f"{path.stem} imports {sorted(imports & ABOVE)}"


# An attribute of ours read through the dispatcher, or through an object
# whose owner is the dispatcher (dunders are Python's protocol, not ours).
REACHING_BACK = re.compile(r"\b(dispatcher|owner|host\.owner)\._(?!_)\w*")


@pytest.mark.parametrize(
    "path", [p for p in MODULES if p.stem != "dispatcher"], ids=lambda p: p.stem
)
def test_no_module_but_the_dispatcher_reads_its_private_attributes(path):
    assert REACHING_BACK.findall(path.read_text()) == []


def test_the_check_for_private_reads_finds_one():
    assert REACHING_BACK.search("owner._forget_background()")
    assert REACHING_BACK.search("x = dispatcher._seen")
    assert not REACHING_BACK.search("dispatcher.__reduce__()")
    assert not REACHING_BACK.search("dispatcher.overloads")


def shadowing_locals(tree):
    """(function, name) where a function binds a name the module imported."""
    imported = set()
    for node in tree.body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            imported.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            args = node.args
            params = [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]
            bound = {a.arg for a in params if a is not None}
            for inner in ast.walk(node):
                if isinstance(inner, ast.Name) and isinstance(inner.ctx, ast.Store):
                    bound.add(inner.id)
            found += [(node.name, name) for name in sorted(bound & imported)]
    return found


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.stem)
def test_no_local_name_shadows_an_imported_module_or_name(path):
    assert shadowing_locals(ast.parse(path.read_text())) == []


def test_the_shadowing_check_finds_one():
    source = "import argtypes\ndef f(a):\n    argtypes = a\n    return argtypes\n"
    assert shadowing_locals(ast.parse(source)) == [("f", "argtypes")]


def test_no_module_is_named_after_a_standard_library_module():
    import sys

    assert not {p.stem for p in MODULES} & set(sys.stdlib_module_names)


def test_warnings_have_no_hard_coded_stack_levels_above_one():
    # The user's line is found by errors.warn_caller, so that moving code
    # between functions cannot move a warning.
    levels = re.compile(r"stacklevel=([0-9]+)")
    for path in MODULES:
        for level in levels.findall(path.read_text()):
            assert int(level) <= 2, f"{path.stem}: stacklevel={level}"
