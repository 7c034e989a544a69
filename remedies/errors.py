class RemedyError(Exception):
    """A remedy rule was broken. `message` is translated; `field` names the form field.

    `conflict` marks the case that somebody else changed the case since the form was
    shown: the view answers 409 and asks the user to reload.
    """

    def __init__(self, message: str, *, field: str | None = None, conflict: bool = False):
        super().__init__(message)
        self.message = message
        self.field = field
        self.conflict = conflict
