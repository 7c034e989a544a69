"""Making, finding and revoking API tokens (api/models.py says what is stored).

A token reads `tds_<prefix>_<secret>`: the prefix (12 hex characters) finds the row, the
SHA-256 of the whole token is compared in constant time. The token is returned once, by
`token_create`, and never stored or logged.
"""

import hashlib
import hmac
import secrets
from datetime import timedelta

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from cases.audit import audit_log
from cases.errors import CaseError
from cases.models import Membership, Role, User
from cases.scoping import membership_of

from .models import ApiToken

SCHEME = "tds"
PREFIX_BYTES = 6  # 12 hex characters: shown on the token page, unique per token
SECRET_BYTES = 32
# Tokens a user may hold at once: a desk system or two, not one per request.
MAX_ACTIVE_PER_USER = 10
# last_used_at is written at most this often: not a database write per API request.
LAST_USED_RESOLUTION = timedelta(minutes=1)
NAME_MAX = 100


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _parse(token: str) -> str | None:
    """The prefix of a well-formed token, else None."""
    scheme, _sep, rest = token.partition("_")
    prefix, _sep, secret = rest.partition("_")
    if scheme != SCHEME or len(prefix) != PREFIX_BYTES * 2 or not secret:
        return None
    if any(c not in "0123456789abcdef" for c in prefix):
        return None
    return prefix


def may_create_for(by_membership: Membership | None, user: User) -> bool:
    """Anyone acting for an organisation makes tokens for themself; a city manager also for
    a contractor's service account, when that company serves the manager's municipality."""
    if by_membership is None:
        return False
    if by_membership.user_id == user.pk:
        return True
    target = membership_of(user)
    return (
        by_membership.role == Role.MANAGER
        and target is not None
        and target.role == Role.CONTRACTOR
        and target.contractor.municipalities.filter(pk=by_membership.municipality_id).exists()
    )


def service_accounts_for(membership: Membership | None):
    """The contractor accounts a manager may make tokens for."""
    if membership is None or membership.role != Role.MANAGER:
        return User.objects.none()
    return User.objects.filter(
        is_active=True,
        membership__role=Role.CONTRACTOR,
        membership__contractor__municipalities=membership.municipality_id,
    ).order_by("username")


@transaction.atomic
def token_create(*, user: User, name: str, by: User) -> tuple[ApiToken, str]:
    """Make a token for `user`; returns the row and the token, which is shown once only."""
    by_membership = membership_of(by)
    if not may_create_for(by_membership, user) or not user.is_active:
        raise PermissionDenied(_("You cannot create a token for this account."))
    name = (name or "").strip()
    if not name:
        raise CaseError(_("Enter a name for the token."), field="name")
    if len(name) > NAME_MAX:
        raise CaseError(_("Write at most %(max)s characters.") % {"max": NAME_MAX}, field="name")
    # Lock the holder's row: two requests at once cannot both pass the count below.
    User.objects.select_for_update().get(pk=user.pk)
    if ApiToken.objects.filter(user=user, revoked_at=None).count() >= MAX_ACTIVE_PER_USER:
        raise CaseError(
            _("This account already has %(max)s tokens. Revoke one you no longer use first.")
            % {"max": MAX_ACTIVE_PER_USER},
            field="name",
        )
    for_other = user.pk != by.pk
    prefix = secrets.token_hex(PREFIX_BYTES)
    while ApiToken.objects.filter(prefix=prefix).exists():
        prefix = secrets.token_hex(PREFIX_BYTES)
    token = f"{SCHEME}_{prefix}_{secrets.token_urlsafe(SECRET_BYTES)}"
    row = ApiToken.objects.create(
        user=user,
        name=name,
        prefix=prefix,
        key_hash=_digest(token),
        municipality_id=by_membership.municipality_id if for_other else None,
        created_by=by,
    )
    audit_log(
        "tadasu.api_token.created",
        by=by,
        obj=row,
        data={"prefix": prefix, "name": name, "for_service_account": for_other},
        municipality_id=by_membership.municipality_id,
    )
    return row, token


def tokens_visible_to(membership: Membership | None):
    """The tokens a user manages: their own, and (a manager) those made for service
    accounts that the manager's municipality holds."""
    if membership is None:
        return ApiToken.objects.none()
    mine = ApiToken.objects.filter(user_id=membership.user_id)
    if membership.role == Role.MANAGER:
        mine = mine | ApiToken.objects.filter(municipality_id=membership.municipality_id)
    return mine.select_related("user").order_by("revoked_at", "-created_at", "-id")


@transaction.atomic
def token_revoke(*, token: ApiToken, by: User) -> ApiToken:
    membership = membership_of(by)
    if not tokens_visible_to(membership).filter(pk=token.pk).exists():
        raise PermissionDenied(_("You cannot revoke this token."))
    token = ApiToken.objects.select_for_update().get(pk=token.pk)
    if token.revoked_at is not None:
        return token  # revoked already (twice pressed): nothing more to record
    token.revoked_at = timezone.now()
    token.revoked_by = by
    token.save(update_fields=["revoked_at", "revoked_by"])
    audit_log(
        "tadasu.api_token.revoked",
        by=by,
        obj=token,
        data={"prefix": token.prefix, "name": token.name},
        municipality_id=token.municipality_id or (membership and membership.municipality_id),
    )
    return token


def token_authenticate(raw: str) -> ApiToken | None:
    """The active token `raw` is, with its user, or None; notes when it was last used."""
    prefix = _parse(raw)
    if prefix is None:
        return None
    token = (
        ApiToken.objects.select_related("user")
        .filter(prefix=prefix, revoked_at=None, user__is_active=True)
        .first()
    )
    if token is None or not hmac.compare_digest(token.key_hash, _digest(raw)):
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token
