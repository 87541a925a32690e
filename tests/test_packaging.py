"""Install like a product: the wheel and the sdist, each into a fresh venv, with and without
the collector extra. ``pip install roomwatch`` is the room agent only, under the one import
namespace ``roomwatch`` (no top-level ``agent``/``collector`` in site-packages), and
``roomwatch collector`` there says which extra to install. Dependencies come from PyPI
through pip's cache."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
# Importable only with the collector extra; none may reach a room PC.
COLLECTOR_ONLY = ("fastapi", "sqlalchemy", "weasyprint", "alembic", "uvicorn")

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]


def _run(*argv: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True, cwd=cwd)


@pytest.fixture(scope="module")
def dists(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The wheel and the sdist, built from a copy of the tree as `python -m build` builds
    them (the sdist first, the wheel from it)."""
    out = tmp_path_factory.mktemp("dist")
    built = _run(sys.executable, "-m", "build", "--outdir", out, REPO)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    (wheel,) = out.glob("roomwatch-*.whl")
    (sdist,) = out.glob("roomwatch-*.tar.gz")
    return {"wheel": wheel, "sdist": sdist}


def _venv(where: Path, requirement: str) -> Path:
    """A fresh venv with ``requirement`` installed; returns its bin folder."""
    made = _run(sys.executable, "-m", "venv", where)
    assert made.returncode == 0, made.stderr
    bin_dir = where / ("Scripts" if sys.platform == "win32" else "bin")
    pip = _run(bin_dir / "python", "-m", "pip", "install", "-q", requirement)
    assert pip.returncode == 0, pip.stdout[-3000:] + pip.stderr[-3000:]
    return bin_dir


def _site_packages(bin_dir: Path) -> Path:
    found = _run(bin_dir / "python", "-c", "import sysconfig; print(sysconfig.get_path('purelib'))")
    return Path(found.stdout.strip())


def _importable(bin_dir: Path, module: str) -> bool:
    probe = f"import importlib.util, sys; sys.exit(importlib.util.find_spec({module!r}) is None)"
    return _run(bin_dir / "python", "-c", probe, cwd=bin_dir).returncode == 0


def _agent_config(tmp: Path) -> Path:
    path = tmp / "agent.yaml"
    path.write_text(
        f"agent_id: room-101\nstate_dir: {tmp / 'state'}\n"
        "devices:\n  - {id: cam1, kind: camera, address: 192.0.2.11, profile: camera-hikvision}\n",
        encoding="utf-8",
    )
    return path


def _collector_config(tmp: Path) -> Path:
    shutil.copy(EXAMPLES / "inventory.yaml", tmp / "inventory.yaml")
    config = yaml.safe_load((EXAMPLES / "collector.yaml").read_text(encoding="utf-8"))
    config["database"] = {"url": f"sqlite:///{tmp / 'collector.db'}"}
    path = tmp / "collector.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


def _assert_one_namespace(bin_dir: Path) -> None:
    site = _site_packages(bin_dir)
    assert (site / "roomwatch" / "agent" / "__init__.py").is_file()
    assert (site / "roomwatch" / "collector" / "__init__.py").is_file()
    assert (site / "roomwatch" / "agent" / "profiles" / "camera-hikvision.yaml").is_file()
    assert not (site / "roomwatch" / "__init__.py").exists()  # a namespace package
    assert not (site / "agent").exists() and not (site / "collector").exists()


def test_the_wheel_without_extras_is_the_agent_only(dists: dict[str, Path], tmp_path: Path) -> None:
    bin_dir = _venv(tmp_path / "venv", str(dists["wheel"]))
    _assert_one_namespace(bin_dir)
    assert [m for m in COLLECTOR_ONLY if _importable(bin_dir, m)] == []
    assert not _importable(bin_dir, "pysnmp")  # v2c needs none; [snmpv3] adds it

    agent = _run(bin_dir / "roomwatch", "agent", "--config", _agent_config(tmp_path), "--check")
    assert agent.returncode == 0, agent.stderr
    assert "ok (agent room-101, 1 devices" in agent.stdout

    config = _collector_config(tmp_path)
    collector = _run(bin_dir / "roomwatch", "collector", "--config", config, "--check")
    assert collector.returncode == 2
    assert "needs the collector extra: pip install 'roomwatch[collector]'" in collector.stderr
    assert "Traceback" not in collector.stderr
    assert not (tmp_path / "collector.db").exists()


def test_the_sdist_with_the_collector_extra_runs_both(
    dists: dict[str, Path], tmp_path: Path
) -> None:
    bin_dir = _venv(tmp_path / "venv", f"roomwatch[collector] @ {dists['sdist'].as_uri()}")
    _assert_one_namespace(bin_dir)

    agent = _run(bin_dir / "roomwatch", "agent", "--config", _agent_config(tmp_path), "--check")
    assert agent.returncode == 0, agent.stderr

    config = _collector_config(tmp_path)
    collector = _run(bin_dir / "roomwatch", "collector", "--config", config, "--check")
    assert collector.returncode == 0, collector.stderr
    assert "ok (3 rooms, 3 agents" in collector.stdout


def _source_files() -> set[str]:
    """Every file of the two packages that git tracks, as its path inside the wheel."""
    listed = _run("git", "ls-files", "agent", "collector", cwd=REPO)
    assert listed.returncode == 0, listed.stderr
    return {
        f"roomwatch/{name}"
        for name in listed.stdout.split()
        if not name.endswith((".md", ".pyc")) and (REPO / name).is_file()
    }


def test_the_wheel_carries_every_module_and_data_file(dists: dict[str, Path]) -> None:
    with zipfile.ZipFile(dists["wheel"]) as wheel:
        in_wheel = {n for n in wheel.namelist() if n.startswith("roomwatch/")}
    assert sorted(_source_files() - in_wheel) == []  # a new subpackage or data folder
    # missing from pyproject's packages / package-data lists shows up here


def test_the_package_list_names_every_folder_with_modules() -> None:
    with (REPO / "pyproject.toml").open("rb") as file:
        listed = set(tomllib.load(file)["tool"]["setuptools"]["packages"])
    folders = {
        "roomwatch." + ".".join(init.parent.relative_to(REPO).parts)
        for top in ("agent", "collector")
        for init in (REPO / top).rglob("__init__.py")
    }
    assert sorted(folders ^ listed) == []
