"""The names and sentences of the API tokens' audit entries (cases/audit_describe.py reads
them), registered at start-up (apps.py)."""

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cases.audit_describe import Data, action, plain


@action("tadasu.api_token.created", gettext_lazy("API token created"))
def _token_created(d: Data) -> str:
    if d.get("for_service_account"):
        text = _("Created the API token “%(name)s” (%(prefix)s…) for a contractor's account")
    else:
        text = _("Created the API token “%(name)s” (%(prefix)s…)")
    return text % {"name": plain(d.get("name")), "prefix": plain(d.get("prefix"))}


@action("tadasu.api_token.revoked", gettext_lazy("API token revoked"))
def _token_revoked(d: Data) -> str:
    return _("Revoked the API token “%(name)s” (%(prefix)s…)") % {
        "name": plain(d.get("name")),
        "prefix": plain(d.get("prefix")),
    }
