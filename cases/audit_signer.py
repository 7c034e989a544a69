"""The audit entries of an import chained, signed and formatted for COPY in a process of
their own.

An import of 10,000 cases writes about 180,000 audit entries, and each costs the import's
process its canonical encoding, its HMAC and its COPY formatting (about a sixth of the
import's processor time, all of it in Python and none of it needing the database). Inside
`signed_apart()`, audit_flush hands each batch's entries, as plain values, to a child
process forked from the import's own, which chains them (each entry's prev_mac is the MAC
before it in its chain), signs them with the same key and the same encoding
(audit._canonical_of: the verifier's), and formats their rows as the import's own COPY
would (bulk.copy_formatter). The rows are sent from bulk.overlapped()'s thread, which takes
the child's data when the batch's turn comes (bulk.insert_formatted), so the import's own
process goes on building the next cases.

The child reads and writes no database: it has a copy of the import's connection object,
only to format as it does, and ends with os._exit. If it is lost, or refuses a batch, the
thread raises SignerLost at the import's next statement; the import rolls back and is done
again with the entries signed in its own process (remedies.interchange.replay).
"""

import hmac
import multiprocessing
import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from operator import itemgetter
from typing import Any

from django.db import connection

from . import bulk
from .models import AuditEntry, AuditHead


class SignerLost(Exception):
    """The process signing an import's audit entries ended, or could not sign a batch."""


_signer: ContextVar["Signer | None"] = ContextVar("audit_signer", default=None)


def current() -> "Signer | None":
    """The signer of the signed_apart() block around, while bulk.overlapped() sends."""
    signer = _signer.get()
    return signer if signer is not None and bulk.overlapping() else None


@contextmanager
def signed_apart(enabled: bool = True) -> Iterator[None]:
    """Inside, on PostgreSQL in a transaction where a process can be forked, the audit
    entries an audit_batch writes inside bulk.overlapped() are signed in a child process
    (enter this before overlapped(): the fork comes before its thread). Else nothing."""
    if (
        not enabled
        or connection.vendor != "postgresql"
        or not connection.in_atomic_block
        or "fork" not in multiprocessing.get_all_start_methods()
    ):
        yield
        return
    from .audit import audit_keys

    key_id, key = next(iter(audit_keys().items()))
    signer = Signer(key_id, key)
    token = _signer.set(signer)
    try:
        yield
    finally:
        _signer.reset(token)
        signer.close()


# The values audit_flush hands over for each entry, in bulk.columns(AuditEntry) order.
_NAMES = bulk.columns(AuditEntry)
_PLACE = {name: place for place, name in enumerate(_NAMES)}


class Signer:
    """The import's side: batches sent in order, their data taken in the same order (by
    the sender's thread), and each chain's last MAC as the child left it."""

    def __init__(self, key_id: str, key: bytes):
        self.key_id = key_id
        context = multiprocessing.get_context("fork")
        requests_in, self.requests = context.Pipe(duplex=False)
        self.results, results_out = context.Pipe(duplex=False)
        self.process = context.Process(
            target=_child,
            args=(requests_in, results_out, key, bulk.copy_formatter()),
            name="tadasu-audit-signer",
            daemon=True,
        )
        self.process.start()
        requests_in.close()  # the child's ends
        results_out.close()
        self.read = itemgetter(*_NAMES)
        self.told: set[int] = set()  # the chains whose head the child has
        self.last_macs: dict[int, str] = {}  # by chain, as of the last batch taken

    def sign(self, entries: list[AuditEntry], heads: dict[int, AuditHead]) -> None:
        """Hand the entries (their ids and every value but the MACs set) to the child."""
        new = {chain: head.last_mac for chain, head in heads.items() if chain not in self.told}
        self.told.update(new)
        read = self.read
        rows = [read(entry.__dict__) for entry in entries]
        try:
            self.requests.send((new, rows))
        except OSError as error:  # the child is gone: its end of the pipe closed
            raise SignerLost("the process signing the audit entries ended") from error

    def data(self) -> list[bytes]:
        """The next batch's rows, formatted (in the sender's thread, in order)."""
        try:
            answer = self.results.recv()
        except (EOFError, OSError) as error:
            raise SignerLost("the process signing the audit entries ended") from error
        if answer[0] != "signed":
            raise SignerLost(f"the process signing the audit entries refused a batch: {answer[1]}")
        _, chunks, macs = answer
        self.last_macs.update(macs)
        return chunks

    def close(self) -> None:
        with suppress(OSError):
            self.requests.send(None)
        self.requests.close()
        self.process.join(timeout=5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.results.close()


def _child(requests: Any, results: Any, key: bytes, formatted: Any) -> None:
    """Chain, sign and format each batch in order; end when told (None) or when the
    import's side is gone."""
    from .audit import _canonical_of, canonical_data

    code = 0
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the import's process answers Ctrl-C
        heads: dict[int, str] = {}
        at, data, chain = _PLACE["at"], _PLACE["data"], _PLACE["chain"]
        prev, mac = _PLACE["prev_mac"], _PLACE["mac"]
        content = itemgetter(
            *(
                _PLACE[name]
                for name in (
                    "action", "case_id", "chain", "client_address", "municipality_id",
                    "object_id", "object_type", "role", "seq", "user_id",
                )
            )
        )  # fmt: skip
        while (request := requests.recv()) is not None:
            new, rows = request
            heads.update(new)
            moved: dict[int, str] = {}
            try:
                out = []
                for values in rows:
                    row = list(values)
                    text = canonical_data(row[data])
                    row[prev] = heads[row[chain]]
                    canonical = _canonical_of(row[at].isoformat(), text, row[prev], *content(row))
                    row[mac] = moved[row[chain]] = heads[row[chain]] = hmac.digest(
                        key, canonical.encode(), "sha256"
                    ).hex()
                    row[data] = text  # jsonb reads the MAC's encoding (as audit_flush writes)
                    out.append(row)
                answer = ("signed", formatted(out), moved)
            except Exception as error:  # the import's own process signs it instead
                answer = ("refused", type(error).__name__)
            results.send(answer)
            if answer[0] != "signed":
                break
    except (EOFError, OSError):  # the import's side is gone
        code = 1
    except BaseException:  # never a traceback from here: the import says what went wrong
        code = 1
    finally:
        os._exit(code)
