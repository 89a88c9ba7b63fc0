"""A normal, non-editable install must ship the presets (hatch's force-include fails silently)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    # Build from a copy so the checkout is never touched.
    src = tmp_path_factory.mktemp("src")
    for item in ("pyproject.toml", "README.md", "llm_budget", "presets"):
        (shutil.copytree if (ROOT / item).is_dir() else shutil.copy)(ROOT / item, src / item)
    r = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(out), str(src)],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    (whl,) = out.glob("llm_gpu_budget-*.whl")
    return whl


@pytest.mark.slow
def test_wheel_contains_every_preset(wheel: Path):
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {n for n in names if n.startswith("llm_budget/presets/")}
    expected = {f"llm_budget/presets/models/{p.name}" for p in (ROOT / "presets" / "models").glob("*.yaml")}
    assert expected and expected <= shipped
    assert "llm_budget/presets/closed-models.yaml" in shipped


@pytest.mark.slow
def test_installed_wheel_finds_presets(wheel: Path, tmp_path: Path):
    # Install the wheel alone into a target folder (its dependencies come from this environment),
    # put it first on the path, and run from an unrelated folder: the checkout's presets/ cannot help.
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--target", str(target), str(wheel)],
        check=True,
    )
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(target), "PYTHONNOUSERSITE": "1", "COLUMNS": "200"}
    r = subprocess.run(
        [
            sys.executable,
            "-c",
            "import llm_budget, llm_budget.model.presets as p; print(llm_budget.__file__); print(p.presets_dir())",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
    )
    assert r.returncode == 0, r.stderr
    module_file, presets = r.stdout.splitlines()
    assert module_file.startswith(str(target)) and presets.startswith(str(target)), r.stdout
    r = subprocess.run(
        [sys.executable, "-m", "llm_budget", "params", "--preset", "gpt3-175b"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
    )
    assert r.returncode == 0, r.stderr
    assert "175,181,291,520" in r.stdout
