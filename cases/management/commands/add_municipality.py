"""Set up a municipality from a small TOML (or JSON) file: `manage.py add_municipality
kitakyushu.toml`. See README.md ("Setting up a municipality") and docs/examples/ for the
file, and cases/setup.py for the rules. Every mistake is listed, nothing is created, and
the exit status is non-zero.
"""

import json
import tomllib
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import translation
from django.utils.translation import gettext as _

from cases.crypto import mask
from cases.issuer import MunicipalityKind, suggest_kind
from cases.models import Role
from cases.setup import SetupError, municipality_set_up
from cases.setup_checks import SEAL_MAX_BYTES, Problem, setup_problems


def read_spec(path: Path) -> tuple[dict, bytes | None, list[Problem]]:
    """The set-up in the file, the seal image's bytes (a path relative to the file), and
    what kept them from being read."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        problem = Problem(("file",), _("The file %(path)s cannot be read.") % {"path": path})
        return {}, None, [problem]
    try:
        spec = json.loads(text) if path.suffix.lower() == ".json" else tomllib.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as error:
        problem = Problem(("file",), _("The file is not valid: %(error)s") % {"error": error})
        return {}, None, [problem]
    if not isinstance(spec, dict):
        return {}, None, [Problem(("file",), _("The file does not describe a municipality."))]
    seal_path = spec.get("seal", {}).get("image") if isinstance(spec.get("seal"), dict) else None
    if not seal_path:
        return spec, None, []
    seal_file = path.parent / str(seal_path)
    try:
        # One byte over the limit is enough to say it is too large.
        with seal_file.open("rb") as handle:
            return spec, handle.read(SEAL_MAX_BYTES + 1), []
    except OSError:
        return (
            spec,
            None,
            [
                Problem(
                    ("seal", "image"),
                    _("The seal image %(path)s cannot be read.") % {"path": seal_file},
                )
            ],
        )


class Command(BaseCommand):
    help = (
        "Set up a municipality from a TOML or JSON file: its code, department, signatory, "
        "seal, designated account, desks, contractors and first users. --dry-run checks "
        "only. Every mistake is listed; nothing is created unless there is none."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", help="the set-up file (.toml, or .json)")
        parser.add_argument(
            "--dry-run", action="store_true", help="check the file and report; create nothing"
        )
        parser.add_argument(
            "--language",
            choices=[code for code, _name in settings.LANGUAGES],
            default=settings.LANGUAGE_CODE,
            help="the language of the messages (default: LANGUAGE_CODE)",
        )

    def handle(self, *args, file: str, dry_run: bool, language: str, **options) -> None:
        with translation.override(language):
            self._handle(Path(file), dry_run=dry_run)

    def _fail(self, problems: list[Problem]) -> None:
        for problem in problems:
            self.stderr.write(f"  {problem.where()}: {problem.message}")
        raise CommandError(
            _("%(count)s mistake(s) found; nothing was created.") % {"count": len(problems)}
        )

    def _handle(self, path: Path, *, dry_run: bool) -> None:
        spec, seal, problems = read_spec(path)
        if problems:
            self._fail(problems)
        if dry_run:
            problems = setup_problems(spec, seal=seal)
            if problems:
                self._fail(problems)
            new = {c["name"] for c in spec.get("contractors", []) if c.get("create") is True}
            self._describe(spec, seal, new=new)
            self.stdout.write(_("Dry run: the file is correct; nothing was created."))
            return
        try:
            done = municipality_set_up(spec=spec, seal=seal, by=None, via="command")
        except SetupError as error:
            self._fail(error.problems)
        m = done.municipality
        self.stdout.write(
            self.style.SUCCESS(
                _("%(name)s (%(code)s, %(kind)s) was set up.")
                % {"name": m.name, "code": m.code, "kind": m.get_kind_display()}
            )
        )
        self._describe(spec, seal, new=set(done.created_contractors))
        self.stdout.write(_("Initial passwords, shown this once: hand each to its user in person."))
        for user in done.users:
            self.stdout.write(f"  {user.username}\t{done.passwords[user.username]}")

    def _describe(self, spec: dict, seal: bytes | None, *, new: set[str]) -> None:
        m = spec.get("municipality", {})
        kind = m.get("kind") or suggest_kind(m.get("code", ""), m.get("name", ""))
        self.stdout.write(_("Kind: %(kind)s") % {"kind": MunicipalityKind(kind).label})
        self.stdout.write(
            _("Desks: %(names)s") % {"names": "、".join(d["name"] for d in spec.get("desks", []))}
        )
        for entry in spec.get("contractors", []):
            self.stdout.write(
                _("Contractor: %(name)s (%(state)s)")
                % {
                    "name": entry["name"],
                    "state": _("newly registered") if entry["name"] in new else _("registered"),
                }
            )
        number = spec.get("designated_account", {}).get("number")
        if number:
            self.stdout.write(_("Designated account: %(number)s") % {"number": mask(number)})
        self.stdout.write(_("Seal image: %(state)s") % {"state": _("yes") if seal else _("none")})
        sealed = spec.get("seal", {}).get("sealed") is True
        self.stdout.write(
            _("Letters: %(state)s")
            % {"state": _("sealed") if sealed else _("without the seal (（公印省略）)")}
        )
        for user in spec.get("users", []):
            self.stdout.write(
                _("User: %(username)s (%(role)s)")
                % {"username": user["username"], "role": Role(user["role"]).label}
            )
