"""The case interchange format ("tadasu-cases", version 2): cases out as JSON, and back in
through the same services a click calls. docs/interchange.md describes the format.

Export writes what each case file is now (its fields, stage, parties with balances, links,
contacts, agreements, visits, letters, ledger, transitions and 経過) and, for every action,
who took it; a global `seq` orders the actions as they were taken (from the audit trail).
Import replays the actions in `seq` order, each as the user who took it, so every
permission and guard applies again; then it checks that the stage, the case and party
fields and every balance came out as the file says. One transaction: a file with one
error imports nothing, and the error names the case, the item, the field and the reason.

Reference data (municipalities, offices, contractors, agencies, users) is never in the
file: it is looked up by its natural key, and a missing one stops the import.
People's contact and account details are in the file only when asked for
(`personal_data`), and every export is audited first (`audit_export`).

rules.py holds what export and import share (the fields, which edit sets which field,
values and reference data as the file holds them); export.py writes a file; replay.py
replays one, each item through the service call in actions.py; stream.py reads a file one
case at a time.
"""

from .export import audit_export, export_cases
from .replay import ImportOutcome, import_case_file, import_cases, import_file
from .rules import InterchangeError
from .stream import NotJSONError

__all__ = [
    "ImportOutcome",
    "InterchangeError",
    "NotJSONError",
    "audit_export",
    "export_cases",
    "import_case_file",
    "import_cases",
    "import_file",
]
