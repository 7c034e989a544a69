"""A case file read ahead of its import, in a process of its own.

Reading a file costs the import about a sixth of its processor time, all of it in Python
and none of it needing the database: the first pass (stream._header: that the file is JSON
and within LIMITS, one Python step for each of its JSON events) and the screen of each case
for individual numbers (screen.screen_case). Here a child process, forked from the import's
own, does both and hands the import its cases, screened, while the import builds and writes
the cases before them: on two cores, the reading no longer waits on the import, nor the
import on the reading.

The child reads the file once. The limits pass reads it in ijson's chunks; ijson parses each
chunk's events before it reads the next, so when the pass asks for a chunk, the one before
has been checked, and only then is it given to a second parser (ijson's items, in C) that
builds the cases. No case is built from bytes the pass has not checked (a string that runs
on past a chunk's end waits, in both parsers, for the rest), so the memory the limits bound
stays bound.

What the import sees is what reading the file first would give it, in the same order:
- the header, as soon as the root's "cases" key is read; if it is not the file's whole
  header (a root key after "cases", or one given twice), the import is done again by
  reading the file first (`Redo`), as are the few files that need ijson's Python parser
  after a first part read by yajl (an integer past 64 bits, read_file's own fallback);
- the cases one by one, each screened;
- an error of the file (not JSON, past a limit) before any other: the child reads on to the
  file's end after a refused case, and the import, on an error of its own, asks the child
  for its verdict (`file_error`) before raising its own;
- a case the screen refuses, after the cases before it, as the import would meet it.

Used for files on disk from AHEAD_FROM_BYTES up, where a process can be forked (Linux);
smaller files, streams and other systems are read first, in the import's process
(stream.read_file). The child touches no database connection and writes nothing; it ends
with the file (os._exit, as multiprocessing ends a forked child), or is killed when the
import ends first.
"""

import io
import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO

import ijson

from cases.mynumber import contains_individual_number

from .rules import InterchangeError
from .screen import screen_case
from .stream import NotJSONError, _check_size, _header, _not_json

AHEAD_FROM_BYTES = 1024 * 1024  # about a hundred cases: below, the file is read first
_CHUNK = 64 * 1024  # ijson's own size of a read
_BATCH = 16  # cases a message: fewer, larger messages through the pipe
_UNSET = object()


class Redo(Exception):  # not an error: the import starts again, reading first
    """The file must be imported by reading it first (stream.read_file): its header was not
    whole at the root's "cases" key, it needs ijson's Python parser, or the reading process
    was lost. Raised inside the import's transaction, which rolls back."""


def read_ahead(file: BinaryIO) -> "Ahead | None":
    """Start reading `file` in a child process, or None where it is read first: a file
    smaller than AHEAD_FROM_BYTES, a stream that is neither a file on disk nor bytes in
    memory (a decrypted upload is an io.BytesIO), or no fork on this system. A file past
    the size limit is refused here, as read_file does."""
    if "fork" not in multiprocessing.get_all_start_methods():
        return None
    source = _source(file)
    if source is None or source[1] < AHEAD_FROM_BYTES:
        if source is not None and source[2] is not None:
            source[2].release()
        return None
    _check_size(file)
    # The screen's tables of characters (0.2 s), read once for both processes: before the
    # fork, since the import's own checks read them too.
    contains_individual_number("１")
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)
    process = context.Process(
        target=_child, args=(source[0], send, receive), name="tadasu-read-ahead", daemon=True
    )
    process.start()
    send.close()  # the child's end: the pipe ends when the child's copy is closed
    if source[2] is not None:
        source[2].release()  # the child has its own copy: the stream may close
    return Ahead(process, receive)


def _source(file: Any) -> tuple[Callable[[int, int], bytes], int, memoryview | None] | None:
    """How the child reads the file at an offset (never through the file object: its
    position is the import's, and a forked process shares it), the file's size, and the
    view of a file in memory, to be let go of once the child has its copy."""
    inner = getattr(file, "file", file)  # Django's File around the stream
    if isinstance(inner, io.BytesIO):  # in memory: the child reads its own copy of it
        view = inner.getbuffer()
        return (lambda offset, size: bytes(view[offset : offset + size])), len(view), view
    try:
        fd = file.fileno()
        size = os.fstat(fd).st_size
    except (AttributeError, OSError, io.UnsupportedOperation):
        return None
    if not file.seekable():
        return None
    return (lambda offset, size: os.pread(fd, size, offset)), size, None


class Ahead:
    """The import's side: the header, then the cases as the child sends them."""

    def __init__(self, process: Any, conn: Any):
        self.process, self.conn = process, conn
        self.early: Any = _UNSET  # the header, as read at the root's "cases" key
        self.final: Any = None  # the whole header, once the file is read
        self.count: int | None = None  # the file's cases, once the file is read
        self.ended = False  # the child's last message received
        self._held: deque = deque()

    def header(self) -> Any:
        """The file's header, as the child read it by the root's "cases" key (the whole
        header if the file has no such key). Raises an error of the file."""
        while self.early is _UNSET:
            message = self._next()
            if message[0] == "header":  # the root's keys before "cases", and its list
                self.early = {**message[1], "cases": []}
            elif message[0] == "end":
                self.early = message[1]
                self._held.append(message)
            else:
                self._end(message)
        return self.early

    def __iter__(self) -> Iterator[Any]:
        while True:
            message = self._next()
            if message[0] == "cases":
                yield from message[1]
            elif message[0] == "end":
                self.ended, self.final, self.count = True, message[1], message[2]
                if self.final != self.early:  # a key after "cases", or "cases" not a list
                    raise Redo("the header is not whole before the cases")
                return
            else:
                self._end(message)

    def file_error(self) -> Exception | None:
        """The error of the file the child met, if any (not JSON, past a limit), once it
        has read the file to its end: it comes before any other, as when the file is read
        first. None for a file without one, or when the child was lost."""
        try:
            while not self.ended:
                message = self._next()
                if message[0] == "error":
                    self.ended = True
                    return _file_error(message)
                self.ended = message[0] in ("end", "refused", "redo")
        except Redo:
            pass
        return None

    def close(self) -> None:
        self.conn.close()  # the child, if it is still sending, stops
        self.process.join(timeout=5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()

    def _next(self) -> tuple:
        if self._held:
            return self._held.popleft()
        try:
            return self.conn.recv()
        except (EOFError, OSError):
            self.ended = True
            raise Redo("the process reading the file ended early") from None

    def _end(self, message: tuple) -> None:
        self.ended = True
        if message[0] == "error":
            raise _file_error(message)
        if message[0] == "refused":
            reason, case, item, field = message[1]
            raise InterchangeError(reason, case=case, item=item, field=field)
        raise Redo(message[1])  # "redo": the child met what it leaves to read_file


def _file_error(message: tuple) -> Exception:
    kind, detail = message[1], message[2]
    if kind == "json":
        return NotJSONError(detail)
    reason, case, item, field = detail
    return InterchangeError(reason, case=case, item=item, field=field)


# ---- the child -------------------------------------------------------------------------------


def _child(read_at: Callable[[int, int], bytes], conn: Any, import_end: Any) -> None:
    import_end.close()  # so that the pipe breaks when the import closes its end
    try:
        _Reading(read_at, conn).run()
    except (BrokenPipeError, ConnectionError):
        pass  # the import ended first
    except Exception:
        # Nothing printed (a traceback could quote the file): the import, finding the pipe
        # closed early, reads the file itself and meets the same trouble where it reports.
        conn.close()
        os._exit(1)
    finally:
        conn.close()


class _Checked:
    """The file as the limits pass reads it. Each chunk is handed on when the pass asks
    for the next, its events all checked by then."""

    def __init__(self, read_at: Callable[[int, int], bytes], handed: Any):
        self.read_at, self.handed, self.offset, self.last = read_at, handed, 0, b""

    def read(self, size: int = -1) -> bytes:
        if size == 0:
            return b""  # ijson's look at what it was given
        if self.last and self.handed is not None:
            self.handed(self.last)
        chunk = self.read_at(self.offset, size if size > 0 else _CHUNK)
        self.offset += len(chunk)
        self.last = chunk
        return chunk

    def finish(self) -> None:
        if self.last and self.handed is not None:
            self.handed(self.last)
            self.last = b""


class _Reading:
    def __init__(self, read_at: Callable[[int, int], bytes], conn: Any):
        self.read_at, self.conn = read_at, conn
        self.header_sent = False
        self.sent = 0  # cases sent to the import
        self.position = 0  # cases built in this pass
        self.batch: list[Any] = []
        self.refused: tuple | None = None  # the screen's refusal: (reason, case, item, field)
        self.clean_keys: set[str] = set()

    def run(self) -> None:
        try:
            try:
                header, count = self._pass(ijson)  # yajl2 in C, the best backend installed
            except NotJSONError as refused:
                # yajl refuses an integer past 64 bits, which JSON allows: if ijson's parser
                # in Python reads the file, the import reads it first, as read_file does.
                try:
                    _header(_Checked(self.read_at, None), ijson.get_backend("python"))
                except NotJSONError:
                    raise refused from None
                self._send(("redo", "the file needs ijson's parser in Python"))
                return
        except NotJSONError as error:
            self._send(("error", "json", str(error)))
            return
        except InterchangeError as error:
            self._send(("error", "limits", (error.reason, error.case, error.item, error.field)))
            return
        if self.refused is not None:
            self._send(("refused", self.refused))
            return
        self._send(("end", header, count))

    def _pass(self, parser: Any) -> tuple[Any, int]:
        built = ijson.utils.sendable_list()
        items = parser.items_coro(built, "cases.item", use_float=True)
        self.position = 0

        def handed(chunk: bytes) -> None:
            if self.refused is not None:
                return  # the rest only checked (an error of the file would come first)
            with _not_json():
                items.send(chunk)
            self._take(built)

        file = _Checked(self.read_at, handed)
        header, count = _header(file, parser, on_cases=self._header)
        file.finish()
        if self.refused is None:
            with _not_json():
                items.close()
            self._take(built)
        self._flush()
        return header, count

    def _header(self, header: Any) -> None:
        if not self.header_sent:
            self.header_sent = True
            self._send(("header", dict(header) if isinstance(header, dict) else header))

    def _take(self, built: list) -> None:
        for case in built:
            if self.refused is not None:
                break
            self.position += 1
            try:
                screen_case(case, f"case {self.position}", self.clean_keys)
            except InterchangeError as error:
                self._flush()  # the cases before it go to the import, as they would
                self.refused = (error.reason, error.case, error.item, error.field)
                break
            self.batch.append(case)
            if len(self.batch) >= _BATCH:
                self._flush()
        del built[:]

    def _flush(self) -> None:
        if self.batch:
            self._send(("cases", self.batch))
            self.sent += len(self.batch)
            self.batch = []

    def _send(self, message: tuple) -> None:
        self.conn.send(message)
