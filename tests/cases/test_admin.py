import pytest

from ..factories import UserFactory

pytestmark = pytest.mark.django_db

REFERENCE_DATA = ["municipality", "office", "contractor", "agency", "membership", "user"]


@pytest.mark.parametrize("model", REFERENCE_DATA)
def test_superuser_manages_reference_data_in_admin(client, world, model):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    assert client.get(f"/admin/cases/{model}/").status_code == 200
    assert client.get(f"/admin/cases/{model}/add/").status_code == 200


def test_cases_are_not_edited_in_admin(client, world):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    assert client.get("/admin/cases/case/").status_code == 404


def test_city_staff_cannot_use_admin(client, world):
    client.force_login(world.staff)
    response = client.get("/admin/cases/municipality/")
    assert response.status_code == 302 and "/admin/login/" in response.url
