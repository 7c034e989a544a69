"""Mail each assignee the cases that are overdue or due within N business days.

Run once a business day (cron or a scheduler), e.g. `python manage.py send_reminders --days 3`.
With --background the mails are sent by a job worker (overview/tasks.py) and this returns at
once with the job's number.
"""

from django.core.management.base import BaseCommand
from django.utils import timezone

from overview import reminders, tasks


class Command(BaseCommand):
    help = "Mail assignees their cases that are overdue or due within N business days."

    def add_arguments(self, parser):
        parser.add_argument(
            "--days", type=int, default=3, help="business days ahead to look (default 3)"
        )
        parser.add_argument("--municipality", help="only this local government code")
        parser.add_argument(
            "--dry-run", action="store_true", help="list what would be sent, send nothing"
        )
        parser.add_argument(
            "--background", action="store_true", help="queue a job; a job worker sends"
        )

    def handle(
        self,
        *args,
        days: int,
        municipality: str | None,
        dry_run: bool,
        background: bool,
        **options,
    ):
        if days < 1:
            self.stderr.write("--days must be at least 1")
            raise SystemExit(2)
        if background and not dry_run:
            job = tasks.reminders_enqueue(days=days, municipality_code=municipality)
            self.stdout.write(f"Job {job.pk} queued: a job worker sends the reminders.")
            return
        result, messages = reminders.send(
            timezone.localdate(), days, dry_run=dry_run, municipality_code=municipality
        )
        for message in messages:
            self.stdout.write(f"{message.to[0]}: {message.subject}")
        for username in result.skipped_no_email:
            self.stderr.write(f"no mail address for user {username}: nothing sent to them")
        verb = "would send" if dry_run else "sent"
        self.stdout.write(f"{verb} {len(messages) if dry_run else result.sent} mail(s)")
