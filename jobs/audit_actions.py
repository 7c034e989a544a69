"""The name and sentence of the jobs' audit entry (cases/audit_describe.py reads them),
registered at start-up (apps.py)."""

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cases.audit_describe import Data, action, choice

from .models import JobKind


@action("tadasu.job.queued", gettext_lazy("Background job queued"))
def _job_queued(d: Data) -> str:
    return _("Queued: %(kind)s") % {"kind": choice(JobKind, d.get("kind"))}
