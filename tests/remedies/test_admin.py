import pytest

from ..factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "model", ["ledgerentry", "visit", "agencycontact", "compensationagreement", "apologyletter"]
)
def test_remedies_have_no_admin_path(client, model):
    # The ledger is append-only and every write goes through a service: no admin back door.
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    assert client.get(f"/admin/remedies/{model}/").status_code == 404
