from datetime import date

import factory
from factory.django import DjangoModelFactory

from cases.models import (
    Case,
    CaseKind,
    Contractor,
    Membership,
    Municipality,
    Office,
    Party,
    Role,
    User,
)


class MunicipalityFactory(DjangoModelFactory):
    class Meta:
        model = Municipality

    code = factory.Sequence(lambda n: f"{400000 + n:06d}")
    name = factory.Sequence(lambda n: f"テスト市{n}")
    department = "デジタル推進課"


class OfficeFactory(DjangoModelFactory):
    class Meta:
        model = Office

    municipality = factory.SubFactory(MunicipalityFactory)
    name = factory.Sequence(lambda n: f"第{n}区役所 支援窓口")


class ContractorFactory(DjangoModelFactory):
    class Meta:
        model = Contractor
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"株式会社テスト窓口{n}")

    @factory.post_generation
    def serves(self, create, extracted, **kwargs):
        if create and extracted:
            self.municipalities.add(*extracted)


class UserFactory(DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    last_name = "試験"
    first_name = factory.Sequence(lambda n: f"{n}郎")
    password = factory.PostGenerationMethodCall("set_password", "pw-for-tests-1")

    @factory.post_generation
    def save_password(self, create, extracted, **kwargs):
        if create:
            self.save()


def member(role: str, *, municipality=None, contractor=None, **user_fields) -> User:
    user = UserFactory(**user_fields)
    Membership.objects.create(
        user=user, role=role, municipality=municipality, contractor=contractor
    )
    return user


class CaseFactory(DjangoModelFactory):
    """A bare case row, for tests of reading and scoping. Writes under test use services."""

    class Meta:
        model = Case

    office = factory.SubFactory(OfficeFactory)
    municipality = factory.LazyAttribute(lambda o: o.office.municipality)
    reference = factory.Sequence(lambda n: f"T-{n:05d}")
    kind = CaseKind.CASHLESS_LINK
    discovered_on = date(2023, 2, 7)
    created_by = factory.SubFactory(UserFactory)


class PartyFactory(DjangoModelFactory):
    class Meta:
        model = Party

    case = factory.SubFactory(CaseFactory)
    label = factory.Sequence(lambda n: f"P{n}氏")
    name = factory.Sequence(lambda n: f"対象 {n}")


__all__ = ["Role", "member"]
