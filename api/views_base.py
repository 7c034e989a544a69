"""What every API view shares: throttling before authentication, scoped case look-ups, the
ledger head as ETag / If-Match."""

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework.request import Request
from rest_framework.views import APIView

from cases import permissions
from cases.access import case_for
from cases.models import Case
from remedies import ledger

from .problems import Invalid, PreconditionRequired


class TadasuAPIView(APIView):
    def initial(self, request: Request, *args, **kwargs) -> None:
        # Count the call before the token is judged: a client guessing tokens is slowed
        # down as much as a client that holds one.
        self.check_throttles(request)
        self._throttled = True
        super().initial(request, *args, **kwargs)

    def check_throttles(self, request: Request) -> None:
        if not getattr(self, "_throttled", False):
            super().check_throttles(request)

    # The same look-ups as the pages (cases/access.py): out of scope is a 404, seen but not
    # changeable a 403.
    def case(self, request: Request, ref: str) -> Case:
        if len(ref) > 32:  # Case.reference's length: nothing longer can exist
            raise Http404
        return case_for(request._request, ref)

    def editable_case(self, request: Request, ref: str) -> Case:
        case = self.case(request, ref)
        if not permissions.can_edit_case(request._request.membership, case):
            raise PermissionDenied(_("You may read this case but not change it."))
        return case


def etag_of(case: Case) -> str:
    return f'"{ledger.ledger_head(case)}"'


def expected_head(request: Request) -> int:
    """The ledger head the client last read, from If-Match; required on writes that move
    money, as the pages' forms carry it (remedies/forms.py LedgerForm)."""
    header = request.headers.get("If-Match", "").strip()
    if not header:
        raise PreconditionRequired(
            _("Send If-Match with the case's ETag (its ledger head), as read from the case.")
        )
    value = header.removeprefix("W/").strip('"')
    if not value.isdigit() or len(value) > 18:
        raise Invalid([("If-Match", _('If-Match must be the case\'s ETag, e.g. "42".'))])
    return int(value)
