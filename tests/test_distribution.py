"""The wheel and the sdist are complete: built, installed into a fresh
environment, and used outside the source tree as a user would."""

from __future__ import annotations

import email
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from conftest import PATIENCE

pytestmark = pytest.mark.slow  # builds and installs a wheel

ROOT = Path(__file__).resolve().parents[1]
UV = shutil.which(
    "uv", path=os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]])
)


def run(*args, **kwargs):
    out = subprocess.run(args, capture_output=True, text=True, timeout=PATIENCE, **kwargs)
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    assert UV is not None, "uv is a test dependency (pyproject.toml)"
    out = tmp_path_factory.mktemp("dist")
    run(UV, "build", "--sdist", "--wheel", "--out-dir", str(out), str(ROOT))
    [wheel] = out.glob("*.whl")
    [sdist] = out.glob("*.tar.gz")
    return wheel, sdist


@pytest.fixture(scope="module")
def installed(dist, tmp_path_factory):
    """A fresh environment with only the wheel (and what it depends on)."""
    wheel, _ = dist
    env_dir = tmp_path_factory.mktemp("env") / "venv"
    run(UV, "venv", "--quiet", "--python", sys.executable, str(env_dir))
    python = env_dir / "bin" / "python"
    run(UV, "pip", "install", "--quiet", "--python", str(python), str(wheel))
    return python


def test_wheel_carries_licence_metadata_and_types(dist):
    wheel, _ = dist
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        [metadata_name] = [n for n in names if n.endswith(".dist-info/METADATA")]
        metadata = email.message_from_string(zf.read(metadata_name).decode())
        [licence] = [n for n in names if n.endswith("licenses/LICENSE")]
        assert "BSD 2-Clause License" in zf.read(licence).decode()
    assert "smart_jit/py.typed" in names
    assert "smart_jit_pytest.py" in names, "the pytest plugin, beside the package"
    [entry_points] = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
    with zipfile.ZipFile(wheel) as zf:
        points = zf.read(entry_points).decode()
    assert "[pytest11]\nsmart_jit = smart_jit_pytest" in points
    assert "[console_scripts]\nsmart-jit = smart_jit.__main__:console_main" in points
    assert metadata["License-Expression"] == "BSD-2-Clause"
    classifiers = metadata.get_all("Classifier")
    for python in ("3.10", "3.11", "3.12", "3.13"):
        assert f"Programming Language :: Python :: {python}" in classifiers
    assert "Typing :: Typed" in classifiers
    assert any(c.startswith("Topic :: ") for c in classifiers)
    assert "numba<0.69,>=0.59" in metadata.get_all("Requires-Dist")
    readme = metadata.get_payload()
    assert "make demo" in readme and "pip install" in readme
    assert "](docs/" not in readme, "a relative link does not resolve on the index"
    assert "`docs/guide/policies.md` (in the source distribution)" in readme


def test_sdist_is_a_source_tree_make_demo_works_in(dist):
    _, sdist = dist
    with tarfile.open(sdist) as tf:
        names = {name.split("/", 1)[1] for name in tf.getnames() if "/" in name}
    for needed in (
        "LICENSE",
        "README.md",
        "Makefile",
        "noxfile.py",
        "pyproject.toml",
        "examples/sum_fast.py",
        "src/smart_jit/__init__.py",
        "tests/conftest.py",
        "CHANGELOG.md",
        "docs/conf.py",
        "docs/index.md",
        "docs/images/crossover.png",
    ):
        assert needed in names, needed


def test_installed_wheel_runs_an_example_and_the_report_outside_the_source(installed, tmp_path):
    shutil.copy(ROOT / "examples" / "sum_fast.py", tmp_path / "sum_fast.py")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    where = run(
        str(installed), "-c", "import smart_jit; print(smart_jit.__file__)", cwd=tmp_path, env=env
    )
    assert not where.startswith(str(ROOT)), where
    version = run(
        str(installed),
        "-c",
        "import importlib.metadata as m, smart_jit; "
        "print(smart_jit.__version__ == m.version('numba-smartjit'))",
        cwd=tmp_path,
        env=env,
    )
    assert version.strip() == "True"
    run(str(installed), "sum_fast.py", cwd=tmp_path, env=env)
    report = run(
        str(installed), "-m", "smart_jit", "report", "sum_fast.py:sum_fast", cwd=tmp_path, env=env
    )
    assert "sum_fast: calls that ran in the interpreter" in report
    command = Path(installed).parent / "smart-jit"
    program = run(str(command), "run", "--report", "sum_fast.py", cwd=tmp_path, env=env)
    assert "21065.83" in program
