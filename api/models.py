"""Personal API tokens (issue 16): what a contractor's or a city's own system signs in with.

Only a SHA-256 hash of the token is stored; the token itself is shown once, when it is made.
Its first characters (`prefix`) are stored in clear so that the holder can tell tokens apart
on their page and so that a request's token is found by an indexed look-up, then compared
by hash in constant time.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _

from cases.models import Municipality, User


class ApiToken(models.Model):
    user = models.ForeignKey(
        User, on_delete=models.CASCADE, related_name="api_tokens", verbose_name=_("user")
    )
    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(_("prefix"), max_length=16, unique=True)
    key_hash = models.CharField(_("hash"), max_length=64)
    # A token a city manager made for a contractor's service account reaches only that
    # manager's municipality, although the company may serve other cities too.
    municipality = models.ForeignKey(
        Municipality,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("limited to municipality"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    created_by = models.ForeignKey(
        User, on_delete=models.PROTECT, related_name="+", verbose_name=_("created by")
    )
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    revoked_by = models.ForeignKey(
        User,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("revoked by"),
    )

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def active(self) -> bool:
        return self.revoked_at is None
