class ReceptionError(Exception):
    """A reception rule was broken. `message` is translated; `field` names the form field."""

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class SheetRefused(ReceptionError):
    """The sheet cannot be imported. `rows` lists (row number, column, message) per bad row;
    an empty list means the whole file was refused for the reason in `message`."""

    def __init__(self, message: str, *, rows: list[tuple[int, str, str]] | None = None):
        super().__init__(message)
        self.rows = rows or []
