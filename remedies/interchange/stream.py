"""Reading an interchange file as a stream, so that the import holds one case at a time,
not the whole file: a first pass checks that the file is JSON and reads its header, a
second yields the cases one by one.

The parser is ijson (yajl2 in C): a well-kept iterative JSON parser, rather than one
written here. Both passes read the file from the disk; the first costs about a second for
10,000 cases, and it refuses a file that is not JSON, or not a case file, before anything
is written, as reading the whole file at once did.
"""

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, BinaryIO

import ijson

from .rules import check_header

_HEADER = ("format", "version")


class NotJSONError(Exception):
    """The file is not JSON in UTF-8. The reason is the parser's, without the text it
    points at: that text may hold a person's details."""


def read_cases(file: BinaryIO) -> Iterator[Any]:
    """The cases of a case file, one at a time, once its header has been checked."""
    if not file.seekable():
        # A pipe (/dev/stdin) cannot be read twice: the passes read a copy on disk.
        copy = tempfile.TemporaryFile()  # noqa: SIM115  # closed with the cases it yields
        shutil.copyfileobj(file, copy)
        copy.seek(0)
        file = copy
    parser = ijson  # the best backend installed: yajl2 in C
    try:
        header = _header(file, parser)
    except NotJSONError as refused:
        # yajl refuses an integer beyond 64 bits, which JSON allows and json.loads read:
        # such a file is read by ijson's parser in Python, slower but exact.
        file.seek(0)
        parser = ijson.get_backend("python")
        try:
            header = _header(file, parser)
        except NotJSONError:
            raise refused from refused.__cause__
    check_header(header)
    file.seek(0)
    return _cases(file, parser)


def _cases(file: BinaryIO, parser: Any) -> Iterator[Any]:
    with _not_json():
        # Floats as float, not Decimal, as json.loads reads them.
        yield from parser.items(file, "cases.item", use_float=True)


def _header(file: BinaryIO, parser: Any) -> Any:
    """The document as the header check reads it: its "format" and "version", and its
    "cases" empty ([] for a list). Everything else is only read, to see that it is JSON."""
    builder = ijson.ObjectBuilder()
    with _not_json():
        for prefix, event, value in parser.parse(file, use_float=True):
            if (
                prefix == ""
                or (prefix == "cases" and event != "map_key")
                or prefix.partition(".")[0] in _HEADER
            ):
                builder.event(event, value)
    return builder.value


@contextmanager
def _not_json() -> Iterator[None]:
    try:
        yield
    except UnicodeDecodeError as error:
        raise NotJSONError(str(error.reason)) from error
    except ijson.JSONError as error:
        reason = error.args[0] if error.args else ""
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        # yajl's message goes on to quote the text around the error: keep its first line.
        raise NotJSONError(str(reason).splitlines()[0] if reason else "") from error
