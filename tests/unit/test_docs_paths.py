"""The docs name only what exists: every file path (`usecases/payments.py`) and every dotted name
(`usecases.payments.checkout`) written in backticks in README.md and docs/*.md is in the tree, so a module moved
or merged cannot leave a newcomer reading about a file that is gone."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
PACKAGES = ("actors", "web", "usecases", "db", "gateways", "rules", "runtime", "workers", "telemetry", "settings",
            "sandbox", "scenarios", "tests", "deploy", "bench")
_ROOTS = "|".join(PACKAGES)
FILE = re.compile(rf"^({_ROOTS})/[\w./-]+\.(py|sql|sh|json|yml|yaml|html|js|css|md|txt|toml|png)$")
DOTTED = re.compile(rf"^({_ROOTS})(\.[A-Za-z_]\w*)+$")
NOT_A_NAME = re.compile(r"\.(md|py|sql|json|png|sh|yml|html|txt)$")  # `bench.md` is a file, not a module


def _backticked() -> list[tuple[str, int, str]]:
    found = []
    for doc in DOCS:
        for number, line in enumerate(doc.read_text(encoding="utf-8").splitlines(), 1):
            for token in re.findall(r"`([^`\s]+)`", line):
                found.append((doc.name, number, token.rstrip(".,:;")))
    return found


def _module(parts: list[str]) -> tuple[Path, list[str]] | None:
    """The longest prefix of ``parts`` that is a module of the tree, and the names after it."""
    for k in range(len(parts), 0, -1):
        base = ROOT.joinpath(*parts[:k])
        for candidate in (base.with_suffix(".py"), base / "__init__.py"):
            if candidate.exists():
                return candidate, parts[k:]
    return None


def _defines(source: str, name: str) -> bool:
    return re.search(rf"^\s*(def|class)\s+{name}\b|^\s*{name}\s*[:=]|\b{name}\s*=", source, re.M) is not None


def test_every_path_and_name_the_docs_mention_exists() -> None:
    missing = []
    for doc, number, token in _backticked():
        if FILE.match(token):
            if "*" not in token and "NNNN" not in token and not (ROOT / token).exists():
                missing.append(f"{doc}:{number} {token}")
        elif DOTTED.match(token) and not NOT_A_NAME.search(token):
            found = _module(token.split("."))
            if found is None or (found[1] and not _defines(found[0].read_text(encoding="utf-8"), found[1][0])):
                missing.append(f"{doc}:{number} {token}")
    assert not missing, "the docs name what is not in the tree:\n" + "\n".join(missing)


def test_the_check_sees_a_missing_file_and_a_missing_name() -> None:
    assert FILE.match("usecases/checkout.py") and not (ROOT / "usecases/checkout.py").exists()
    found = _module("usecases.payments.no_such_function".split("."))
    assert found is not None and found[1] == ["no_such_function"]
    assert not _defines(found[0].read_text(encoding="utf-8"), "no_such_function")
    assert _defines(found[0].read_text(encoding="utf-8"), "checkout")
