"""The README's setup works where the system Python refuses `pip install` (PEP 668: Debian 12, Ubuntu 24.04, most
cluster login nodes): `make` only uses that Python to create .venvs/driver and installs into the virtualenv.

The refusing Python is simulated with a scratch copy of this interpreter whose standard library carries an
EXTERNALLY-MANAGED marker, exactly what those systems ship; pip in it refuses to install, as there."""

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from conftest import PROJECT

pytestmark = pytest.mark.slow


def scratch_python(root: Path) -> Path:
    """A non-virtualenv Python under `root`: its own prefix (stdlib linked in, pip only in site-packages) with an
    EXTERNALLY-MANAGED marker."""
    stdlib = Path(sysconfig.get_path("stdlib", vars={"installed_base": sys.base_prefix, "base": sys.base_prefix}))
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    lib = root / "lib" / version
    (lib / "site-packages").mkdir(parents=True)
    for entry in stdlib.iterdir():
        if entry.name != "site-packages":
            (lib / entry.name).symlink_to(entry)
    pip = Path(__import__("pip").__file__).parent
    (lib / "site-packages" / "pip").symlink_to(pip)
    (lib / "EXTERNALLY-MANAGED").write_text("[externally-managed]\nError=this Python is managed by the system\n")
    (root / "bin").mkdir()
    executable = root / "bin" / version
    base_executable = Path(sys.base_prefix) / "bin" / version
    shutil.copy2(base_executable if base_executable.exists() else sys.executable, executable)
    return executable


def test_setup_installs_into_its_own_virtualenv_where_pip_install_is_refused(tmp_path):
    python = scratch_python(tmp_path / "system")
    refused = subprocess.run(
        [str(python), "-m", "pip", "install", "--dry-run", "pyyaml"], capture_output=True, text=True
    )
    assert refused.returncode != 0 and "externally-managed-environment" in refused.stdout + refused.stderr

    checkout = tmp_path / "checkout"
    shutil.copytree(
        PROJECT,
        checkout,
        ignore=shutil.ignore_patterns(
            ".git", ".venvs", "data", "jobs", "images", "__pycache__", "*.egg-info", ".pytest_cache"
        ),
    )
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    proc = subprocess.run(["make", "setup", f"PYTHON={python}"], cwd=checkout, capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    driver = checkout / ".venvs" / "driver" / "bin" / "python"
    check = subprocess.run(
        [
            str(driver),
            "-c",
            "import pipeline.submit, yaml, spython, pytest, matplotlib; "
            "import pipeline, sys; print(pipeline.__file__, sys.prefix)",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert check.returncode == 0, check.stderr
    assert check.stdout.startswith(str(checkout / "pipeline")) and str(checkout / ".venvs" / "driver") in check.stdout
    # every later step of the two commands runs the driver's python, never the system one
    plan = subprocess.run(
        ["make", "-n", "demo", "test", f"PYTHON={python}"], cwd=checkout, capture_output=True, text=True, env=env
    )
    assert f"{python} -m pip" not in plan.stdout and ".venvs/driver/bin/python -m pipeline.submit" in plan.stdout
