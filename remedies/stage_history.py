"""How long a case spent in each stage, read back from its timeline.

Every stage change writes a timeline entry with the action "stage.<step>" on the date the
step was recorded for (workflow.case_transition), and opening writes "case.opened" on the
day the city learned of it. Those entries are the history; nothing else is stored.
"""

from dataclasses import dataclass
from datetime import date

from cases.models import Case, Stage, TimelineEvent

from .workflow import CaseFile

# step name → the stage it leads to, from the stage machine's own table.
_TARGETS: dict[str, str] = {
    t.name: t.target for t in CaseFile._meta.get_field("stage").get_all_transitions(CaseFile)
}


@dataclass(frozen=True)
class Span:
    stage: str
    start: date
    end: date  # the next stage's start, or today for the current stage
    current: bool

    @property
    def label(self) -> str:
        return Stage(self.stage).label

    @property
    def days(self) -> int:
        return (self.end - self.start).days


def stage_spans(case: Case, today: date) -> list[Span]:
    events = (
        TimelineEvent.objects.filter(case=case)
        .filter(action__in=["case.opened", *(f"stage.{step}" for step in _TARGETS)])
        .order_by("occurred_on", "id")
        .values_list("action", "occurred_on")
    )
    starts: list[tuple[str, date]] = []
    for action, on in events:
        stage = Stage.INQUIRY if action == "case.opened" else _TARGETS[action.split(".", 1)[1]]
        starts.append((str(stage), on))
    if not starts:
        return []
    spans = []
    for (stage, start), following in zip(starts, [*starts[1:], None], strict=True):
        current = following is None
        end = max(today, start) if current else max(following[1], start)
        spans.append(Span(stage, start, end, current and stage == case.stage))
    # A closed or withdrawn case's clock has stopped: the bar ends where the case ended.
    if spans[-1].stage in (Stage.CLOSED, Stage.WITHDRAWN):
        spans.pop()
    return spans


@dataclass(frozen=True)
class Bar:
    """One stage span placed on a 0–100 scale for the drawn bar."""

    span: Span
    x: float
    width: float


def bar(spans: list[Span]) -> list[Bar]:
    total = sum(s.days for s in spans)
    if not spans:
        return []
    if total == 0:
        width = 100 / len(spans)
        return [Bar(s, i * width, width) for i, s in enumerate(spans)]
    bars, x = [], 0.0
    for span in spans:
        width = 100 * span.days / total
        bars.append(Bar(span, x, width))
        x += width
    return bars
