"""What the compiled path's modules share (compiled.py and one module per topic of its
kinds of action): the refusal that sends a case to the replay, and what a compiled action
does when its seq comes."""

from collections.abc import Callable

Run = Callable[[], None]  # what an action does when its seq comes (queue rows, audit)


class NotCompiled(Exception):
    """This case is left to the replay."""


def nothing() -> None:
    return None


def together(runs: list[Run]) -> Run:
    """One action that does, in order, what several services do in one call (a link with
    its correction, a request with its answer)."""

    def run() -> None:
        for each in runs:
            each()

    return run
