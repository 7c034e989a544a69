"""cases/ never imports remedies/ (DESIGN.md, Boundaries; issue 17): other apps extend the
case file through registries (sections.py, handovers.py), and the arrow runs one way."""

import ast
from pathlib import Path

import cases
from cases import handovers
from remedies import ledger

CASES_DIR = Path(cases.__file__).parent


def _imports_of(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    return names


def test_no_module_of_cases_imports_remedies_even_at_call_time():
    offenders = [
        f"{path.relative_to(CASES_DIR.parent)}: {name}"
        for path in sorted(CASES_DIR.rglob("*.py"))
        if "migrations" not in path.parts
        for name in _imports_of(path)
        if name == "remedies" or name.startswith("remedies.")
    ]
    assert offenders == []


def test_remedies_registers_the_hand_over_of_money_totals():
    assert ledger.case_contractor_changed in handovers._ON_CONTRACTOR_CHANGED
