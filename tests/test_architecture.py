"""The architecture holds: the import contracts of ``.importlinter`` (layers, top to bottom
cli | demo | orchestration > runner > report > marts > warehouse > validation > sources > config > core),
modules of a readable size, and test modules that do not import each other.

A check that fails today only because of modules left for later work is marked xfail (strict=False)
naming the offenders and why; beside it a strict check keeps new offenders out. When the offenders
are fixed, empty their list here (and add the contract to IMPORT_CONTRACTS in the Makefile). The
``no-cycles`` contract (``acyclic_siblings``) keeps the modules of every package free of import cycles.
"""

from __future__ import annotations

import ast
import configparser
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
MAX_LINES = 400
LONG_BECAUSE = "Longer than 400 lines because"

#: contract id -> the imports that break it today, in modules owned by other work in progress
BROKEN_CONTRACTS: dict[str, str] = {}

#: modules over 400 lines today (path relative to the repository). Not split on purpose: issue #14
#: rewrites the marts, and splits them then.
LONG_MODULES = {
    "plugins/alliance_finance/marts/finance.py",
}

def _contract_ids() -> list[str]:
    config = configparser.ConfigParser()
    config.read(ROOT / ".importlinter")
    prefix = "importlinter:contract:"
    return [section[len(prefix):] for section in config.sections() if section.startswith(prefix)]


def _lint_imports(*contracts: str) -> subprocess.CompletedProcess:
    args = [str(LINT_IMPORTS), "--no-cache", "--no-logo"]
    for contract in contracts:
        args += ["--contract", contract]
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("contract", [
    pytest.param(c, marks=pytest.mark.xfail(strict=False, reason=f"broken today by {BROKEN_CONTRACTS[c]}"))
    if c in BROKEN_CONTRACTS else c
    for c in _contract_ids()
])
def test_import_contract_is_kept(contract):
    done = _lint_imports(contract)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]


def test_make_test_runs_every_contract_that_holds():
    """The Makefile's IMPORT_CONTRACTS are exactly the contracts not known to be broken."""
    makefile = (ROOT / "Makefile").read_text()
    found = re.search(r"^IMPORT_CONTRACTS\s*=(.*)$", makefile, re.M)
    assert found, "Makefile: no IMPORT_CONTRACTS line"
    assert set(found.group(1).split()) == set(_contract_ids()) - set(BROKEN_CONTRACTS)


def _first_docstring_paragraph(path: Path) -> str:
    docstring = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    return docstring.split("\n\n", 1)[0]


def _long_modules() -> set[str]:
    long = set()
    for folder in ("plugins", "src"):
        for path in sorted((ROOT / folder).rglob("*.py")) if (ROOT / folder).is_dir() else ():
            lines = len(path.read_text(encoding="utf-8").splitlines())
            if lines > MAX_LINES and LONG_BECAUSE not in _first_docstring_paragraph(path):
                long.add(path.relative_to(ROOT).as_posix())
    return long


def test_no_new_module_over_400_lines_without_saying_why():
    new = sorted(_long_modules() - LONG_MODULES)
    assert not new, (f"over {MAX_LINES} lines: {new}; split them, or begin the module docstring with "
                     f"'{LONG_BECAUSE} ...'")


@pytest.mark.xfail(strict=False, reason="left whole until issue #14 rewrites the marts: "
                   + ", ".join(sorted(LONG_MODULES)))
def test_no_module_over_400_lines_without_saying_why():
    assert not _long_modules(), sorted(_long_modules())


def _test_modules_importing_test_modules() -> dict[str, list[str]]:
    found = {}
    for path in sorted((ROOT / "tests").glob("test_*.py")):
        names = []
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names += [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.append(node.module)
        imported = sorted({n for n in names if n.split(".")[0].startswith("test_")})
        if imported:
            found[path.name] = imported
    return found


def test_no_test_module_imports_another():
    """Shared test helpers live in helper modules (tests/warehouse_batches.py, wp_fixtures.py, ...)."""
    found = _test_modules_importing_test_modules()
    assert not found, f"test modules importing test modules (move the helpers to a helper module): {found}"
