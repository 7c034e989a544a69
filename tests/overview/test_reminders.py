"""send_reminders: one mail per assignee, only their cases due soon or overdue, no names."""

import io
from datetime import date

import pytest
from django.core import mail
from django.core.management import call_command

from cases.models import Stage
from tests.factories import CaseFactory, PartyFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def cases(world, today):
    world.staff.email = "staff@example.jp"
    world.staff.save()
    world.manager.email = "manager@example.jp"
    world.manager.language = "en"
    world.manager.save()
    late = CaseFactory(
        office=world.office, assignee=world.staff, stage=Stage.INQUIRY, stage_since=date(2023, 2, 1)
    )
    PartyFactory(case=late, name="佐藤 花子")
    # Inquiry allows 10 business days (2/23 is a holiday): since 2/15 is due 3/2, within the
    # next three business days (3/1–3/3); since 2/20 is due 3/7, not yet.
    soon = CaseFactory(
        office=world.office,
        assignee=world.staff,
        stage=Stage.INQUIRY,
        stage_since=date(2023, 2, 15),
    )
    calm = CaseFactory(
        office=world.office,
        assignee=world.staff,
        stage=Stage.INQUIRY,
        stage_since=date(2023, 2, 20),
    )
    done = CaseFactory(
        office=world.office, assignee=world.staff, stage=Stage.CLOSED, stage_since=date(2022, 5, 2)
    )
    managers = CaseFactory(
        office=world.office2,
        assignee=world.manager,
        stage=Stage.VISIT,
        stage_since=date(2023, 1, 10),
    )
    return {"late": late, "soon": soon, "calm": calm, "done": done, "managers": managers}


def test_each_assignee_gets_one_mail_with_their_due_cases(world, cases):
    call_command("send_reminders", "--days", "3")
    assert len(mail.outbox) == 2
    by_to = {m.to[0]: m for m in mail.outbox}
    staff_mail = by_to["staff@example.jp"]
    assert staff_mail.subject == "【Tadasu】期限超過・期限間近の案件が2件あります"
    assert cases["late"].reference in staff_mail.body
    assert cases["soon"].reference in staff_mail.body
    assert cases["calm"].reference not in staff_mail.body
    assert cases["done"].reference not in staff_mail.body
    assert "（期限超過）" in staff_mail.body or "(期限超過)" in staff_mail.body
    # Mail leaves the system: no names of the people in the case.
    assert "佐藤" not in staff_mail.body
    # The manager reads English.
    manager_mail = by_to["manager@example.jp"]
    assert manager_mail.subject == "[Tadasu] 1 case(s) overdue or due soon"
    assert cases["managers"].reference in manager_mail.body


def test_dry_run_sends_nothing(world, cases, capsys):
    call_command("send_reminders", "--dry-run")
    assert mail.outbox == []
    assert "would send 2 mail(s)" in capsys.readouterr().out


def test_an_assignee_without_a_mail_address_is_reported(world, cases, capsys):
    world.staff.email = ""
    world.staff.save()
    call_command("send_reminders")
    assert [m.to for m in mail.outbox] == [["manager@example.jp"]]
    assert "no mail address for user staff" in capsys.readouterr().err


def test_reminders_in_the_background_are_sent_once_by_a_worker(world, cases):
    from django_scopes import scopes_disabled
    from django_tasks_db.models import DBTaskResult

    from jobs.models import Job, JobState
    from jobs.worker import work_off

    out = io.StringIO()
    call_command("send_reminders", "--days", "3", "--background", stdout=out)
    assert "queued" in out.getvalue() and mail.outbox == []
    assert work_off() == 1
    assert len(mail.outbox) == 2
    with scopes_disabled():
        job = Job.objects.get()
    assert job.state == JobState.DONE and job.done == 2
    assert job.summary.startswith("2通")
    # The same task delivered again: the job is done, no mail goes out a second time.
    task = DBTaskResult.objects.get()
    task.task.call(**task.args_kwargs["kwargs"])
    assert len(mail.outbox) == 2
