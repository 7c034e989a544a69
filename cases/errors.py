class CaseError(Exception):
    """A case-file rule was broken. `message` is translated; `field` names the form field."""

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
