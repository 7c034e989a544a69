"""Documents to many people at once (`issue_document --all-parties`).

Each document is exactly the one document_issue would issue: the same data, number, PDF
and audit entry. What differs is the pace: the documents are read, numbered and
recorded a batch at a time, each batch in one transaction, and their PDFs are drawn by
worker processes (from the frozen data only) while this process records them.
"""

import itertools
import multiprocessing
import os
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from datetime import date

import django
from django.db import transaction

from cases.audit import audit_batch
from cases.models import Case, Party, User
from cases.services import not_in_future, today
from cases.wareki import fiscal_year

from ..models import Document
from . import data as frozen
from . import module_for
from .services import (
    _check_subject,
    _require_city,
    _seal,
    is_numbered,
    new_document,
    record_issue,
    render,
    take_numbers,
)

# Documents per transaction. Each batch holds the document-number and audit locks while it
# is drawn and recorded (a quarter of a second or so): small enough that a letter issued
# from the web meanwhile waits little, large enough that commits stop costing much.
BATCH = 25
# Fewer documents than this are drawn here: starting a worker (Django and the fonts, about
# a second) would cost more than it saves.
PARALLEL_FROM = 40
# This process records a letter in about a third of the time a letter takes to draw: more
# workers than this would wait for it, each holding its own ~100 MB.
MAX_WORKERS = 3


def documents_issue_many(
    *,
    kind: str,
    by: User,
    targets: list[tuple[Case, Party]],
    dated: date | None = None,
    workers: int | None = None,
) -> Iterator[Document]:
    """Issue a document of `kind` to each (case, person), in order; yields each document
    once its batch is committed.

    Everything is checked before the first document is issued. Each document is
    all-or-nothing with its number and audit entry, as with document_issue; a
    failure takes back the documents of its own batch, never those already yielded.
    `workers`: processes helping to draw the PDFs (default: one per CPU but this process's,
    at most MAX_WORKERS, for a run of PARALLEL_FROM documents or more; else none)."""
    dated = dated or today()
    not_in_future(dated, "dated")
    for case, party in targets:
        _require_city(case.municipality, by)
        _check_subject(kind, case=case, party=party, entry=None, cases=[])
    if workers is None:
        cpus = os.cpu_count() or 1
        workers = min(cpus - 1, MAX_WORKERS) if len(targets) >= PARALLEL_FROM else 0
    with frozen.reuse_case_data(), _drawing(workers) as draw:
        for start in range(0, len(targets), BATCH):
            yield from _issue_batch(kind, by, targets[start : start + BATCH], dated, draw)


def _issue_batch(
    kind: str, by: User, batch: list[tuple[Case, Party]], dated: date, draw
) -> list[Document]:
    year = fiscal_year(dated)
    read_ahead = getattr(module_for(kind), "read_ahead", None)
    with transaction.atomic():
        # The batch's numbers under one lock, given in the batch's order; municipalities
        # locked in a fixed order so that two bulk runs cannot deadlock.
        municipalities = {case.municipality_id: case.municipality for case, _ in batch}
        following = {}
        for pk in sorted(municipalities):
            if not is_numbered(municipalities[pk], kind):
                following[pk] = itertools.repeat(None)  # this municipality numbers no such kind
                continue
            count = sum(1 for case, _ in batch if case.municipality_id == pk)
            following[pk] = itertools.count(take_numbers(municipalities[pk], year, count))
        if read_ahead is not None:
            read_ahead(batch)
        documents, drawn = [], []
        for case, party in batch:
            document = new_document(
                kind,
                case.municipality,
                by=by,
                dated=dated,
                year=year,
                number=next(following[case.municipality_id]),
                case=case,
                party=party,
                cases=[],
            )
            documents.append(document)
            # Handed to the workers at once: they draw while the rest are frozen ...
            needs_approval = document.municipality.documents_need_approval
            drawn.append(None if needs_approval else draw(document.data))
        # ... while each is sealed and recorded here as soon as its PDF is ready.
        # Locked after the numbers, as document_issue does: no deadlock with it.
        with audit_batch():
            for i, document in enumerate(documents):
                if drawn[i] is not None:
                    _seal(document, _pdf_of(drawn, i))
                document.save()
                record_issue(document, by=by)
    return documents


class _Drawing:
    """A PDF handed to the workers, unless this process draws it first (take)."""

    def __init__(self, data: dict, future: Future | None):
        self.data, self.future = data, future
        self.drawn: bytes | None = None

    def take(self) -> bool:
        """Draw it here if no worker has started on it; whether this did."""
        if self.drawn is None and (self.future is None or self.future.cancel()):
            self.drawn = render(self.data)
            return True
        return False

    def ready(self) -> bool:
        return self.drawn is not None or self.future is None or self.future.done()

    def pdf(self) -> bytes:
        if self.drawn is None and not self.take():
            return self.future.result()
        return self.drawn


def _pdf_of(drawings: list[_Drawing | None], i: int) -> bytes:
    """The i-th PDF. Rather than wait idle while a worker draws it, this process draws the
    batch's last PDFs that no worker has started yet (so it also keeps pace when the
    workers get less CPU than it does)."""
    later = [d for d in reversed(drawings[i + 1 :]) if d is not None]
    while not drawings[i].ready() and any(d.take() for d in later):
        pass
    return drawings[i].pdf()


@contextmanager
def _drawing(workers: int) -> Iterator:
    """draw(data) -> a _Drawing of the document, with workers to help or without."""
    if workers < 1:
        yield lambda data: _Drawing(data, None)
        return
    # spawn, not fork: a forked child would share this process's database connection.
    # The worker sets Django up before it unpickles its first render call.
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=django.setup,
    )
    try:
        yield lambda data: _Drawing(data, pool.submit(render, data))
    finally:
        pool.shutdown(cancel_futures=True)
