"""Issue 10 item 19: production installs only what the runtime imports, pinned with hashes.

requirements.txt is the runtime; requirements-dev.txt (tests, tooling, the sandbox's moto and scikit-image)
includes it; requirements.lock is `pip-compile --generate-hashes requirements.txt` (README "Dependencies").
"""
from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RUNTIME_PACKAGES = ("settings", "rules", "usecases", "gateways", "db", "runtime", "actors", "workers", "web",
                    "telemetry")
DEV_ONLY = {"pytest", "pytest-timeout", "hypothesis", "schemathesis", "ruff", "import-linter", "playwright",
            "moto", "scikit-image", "pip-tools"}


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?==([^\s;#\\]+)", line)
        if m:
            pins[_norm(m.group(1))] = m.group(2)
    return pins


def test_runtime_requirements_hold_no_development_tool():
    runtime = _pins(ROOT / "requirements.txt")
    assert not DEV_ONLY & set(runtime), sorted(DEV_ONLY & set(runtime))
    dev = (ROOT / "requirements-dev.txt").read_text()
    assert "-r requirements.txt" in dev
    assert DEV_ONLY <= set(_pins(ROOT / "requirements-dev.txt"))


def test_lock_pins_every_runtime_requirement_with_hashes():
    lock_text = (ROOT / "requirements.lock").read_text()
    lock = _pins(ROOT / "requirements.lock")
    for name, version in _pins(ROOT / "requirements.txt").items():
        assert lock.get(name) == version, f"{name}=={version} not in requirements.lock (run `make lock`)"
    assert not DEV_ONLY & set(lock), sorted(DEV_ONLY & set(lock))
    # every pinned entry carries at least one sha256
    for block in re.split(r"\n(?=[A-Za-z0-9])", lock_text.split("\n\n", 1)[-1]):
        if "==" in block.splitlines()[0]:
            assert "--hash=sha256:" in block, block.splitlines()[0]
    assert "--hash=sha256:" in (ROOT / "requirements-nodeps.txt").read_text()


def test_every_third_party_import_of_the_runtime_is_in_the_lock():
    lock = set(_pins(ROOT / "requirements.lock")) | {_norm(n) for n in _pins(ROOT / "requirements-nodeps.txt")}
    dists = importlib.metadata.packages_distributions()
    local = {p.name for p in ROOT.iterdir() if p.is_dir()} | {p.stem for p in ROOT.glob("*.py")}
    missing = {}
    for package in RUNTIME_PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    if top in sys.stdlib_module_names or top in local:
                        continue
                    owners = {_norm(d) for d in dists.get(top, [top])}
                    if not owners & lock:
                        missing.setdefault(top, []).append(str(path.relative_to(ROOT)))
    assert not missing, missing
