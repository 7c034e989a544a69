"""People, links, agency contacts, the stage and the ledger: the case page's sections as
resources. Each read is what that section shows the same user; each write is the section's
form and service (remedies/views.py, cases/views.py)."""

from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from cases import reveal, services
from cases.crypto import mask, mask_address
from cases.forms import MisregistrationForm, PartyForm, RevealForm
from cases.models import Misregistration, Party
from jobs.models import Job
from jobs.selectors import visible_jobs
from jobs.services import current_progress
from remedies import forms as remedy_forms
from remedies import ledger
from remedies import services as remedy_services
from remedies.models import AgencyContact, LedgerEntry
from remedies.views import LEDGER_FORMS
from remedies.workflow import STEPS, case_transition, next_by_others, steps_for

from . import serializers as out
from .forms_bridge import body_serializer, cleaned
from .views import IF_MATCH, _case_response, problems
from .views_base import TadasuAPIView, etag_of, expected_head

# ---- people ---------------------------------------------------------------------------------


def _party_shown(party: Party, rule: reveal.Rule) -> dict:
    accounts = rule.masked_accounts
    return {
        "id": party.pk,
        "label": party.label,
        "identified": party.identified,
        "name": party.name if party.identified else "",
        "name_kana": party.name_kana if party.identified else "",
        "identification_note": party.identification_note,
        "phone": mask(party.phone),
        "address": mask_address(party.address),
        "account_number": mask(party.account_number) if accounts else "",
        "payment_account": mask(party.payment_account) if accounts else "",
        "can_reveal": reveal.offers_something(rule, party),
    }


class PartiesView(TadasuAPIView):
    @extend_schema(
        operation_id="parties_list",
        responses={200: out.PartySerializer(many=True), **problems(403, 404)},
    )
    def get(self, request: Request, ref: str) -> Response:
        case = self.case(request, ref)
        rule = reveal.rule_for(request._request.membership, case)
        parties = Party.objects.filter(case=case).order_by("label", "id")
        return Response([_party_shown(p, rule) for p in parties])

    @extend_schema(
        operation_id="party_add",
        request=body_serializer(PartyForm, "PartyAdd"),
        responses={201: out.PartySerializer, **problems(400, 403, 404)},
    )
    def post(self, request: Request, ref: str) -> Response:
        case = self.editable_case(request, ref)
        data = cleaned(PartyForm, request.data, name="PartyAdd")
        party = services.party_add(case=case, by=request.user, **data)
        rule = reveal.rule_for(request._request.membership, case)
        return Response(_party_shown(party, rule), status=status.HTTP_201_CREATED)


class PartyRevealView(TadasuAPIView):
    @extend_schema(
        operation_id="party_reveal",
        request=body_serializer(RevealForm, "RevealReason"),
        responses={200: out.RevealedSerializer, **problems(400, 403, 404)},
        description="The person's details in clear, as far as the role may see them, "
        "recorded in the audit trail as the case page's “Show”. A closed case asks for a "
        "reason (managers and auditors only).",
    )
    def post(self, request: Request, ref: str, party_id: int) -> Response:
        case = self.case(request, ref)
        party = get_object_or_404(Party, case=case, pk=party_id)
        rule = reveal.rule_for(request._request.membership, case)
        reason = ""
        if rule.needs_reason:
            reason = cleaned(RevealForm, request.data, name="RevealReason")["reason"]
        fields = services.party_reveal(party=party, by=request.user, reason=reason)
        return Response(
            {"label": party.label, "fields": {name: getattr(party, name) or "" for name in fields}}
        )


# ---- links ----------------------------------------------------------------------------------


class LinksView(TadasuAPIView):
    @extend_schema(
        operation_id="links_list",
        responses={200: out.LinkSerializer(many=True), **problems(403, 404)},
    )
    def get(self, request: Request, ref: str) -> Response:
        case = self.case(request, ref)
        links = Misregistration.objects.filter(case=case).select_related("source", "target")
        return Response(out.LinkSerializer(links.order_by("id"), many=True).data)

    @extend_schema(
        operation_id="link_add",
        request=body_serializer(MisregistrationForm, "LinkAdd"),
        responses={201: out.LinkSerializer, **problems(400, 403, 404)},
    )
    def post(self, request: Request, ref: str) -> Response:
        case = self.editable_case(request, ref)
        data = cleaned(
            MisregistrationForm,
            request.data,
            name="LinkAdd",
            parties=Party.objects.filter(case=case),
            case_kind=case.kind,
        )
        link = services.misregistration_add(case=case, by=request.user, **data)
        return Response(out.LinkSerializer(link).data, status=status.HTTP_201_CREATED)


# ---- agency contacts ------------------------------------------------------------------------


def _contact(contact: AgencyContact) -> dict:
    return {
        "id": contact.pk,
        "agencies": [a.name for a in contact.agencies.all()],
        "made_by": contact.made_by,
        "contacted_on": contact.contacted_on,
        "channel": contact.channel,
        "request": contact.request,
        "answered_on": contact.answered_on,
        "answer": contact.answer,
    }


class ContactsView(TadasuAPIView):
    @extend_schema(
        operation_id="contacts_list",
        responses={200: out.ContactSerializer(many=True), **problems(403, 404)},
    )
    def get(self, request: Request, ref: str) -> Response:
        case = self.case(request, ref)
        contacts = AgencyContact.objects.filter(case=case).prefetch_related("agencies")
        return Response([_contact(c) for c in contacts.order_by("contacted_on", "id")])

    @extend_schema(
        operation_id="contact_add",
        request=body_serializer(remedy_forms.ContactForm, "ContactAdd"),
        responses={201: out.ContactSerializer, **problems(400, 403, 404)},
    )
    def post(self, request: Request, ref: str) -> Response:
        case = self.editable_case(request, ref)
        data = cleaned(remedy_forms.ContactForm, request.data, name="ContactAdd")
        contact = remedy_services.contact_add(case=case, by=request.user, **data)
        return Response(_contact(contact), status=status.HTTP_201_CREATED)


class ContactAnswerView(TadasuAPIView):
    @extend_schema(
        operation_id="contact_answer",
        request=body_serializer(remedy_forms.AnswerForm, "ContactAnswer"),
        responses={200: out.ContactSerializer, **problems(400, 403, 404)},
    )
    def post(self, request: Request, ref: str, contact_id: int) -> Response:
        case = self.editable_case(request, ref)
        contact = get_object_or_404(AgencyContact, case=case, pk=contact_id)
        data = cleaned(remedy_forms.AnswerForm, request.data, name="ContactAnswer")
        contact = remedy_services.contact_answer(contact=contact, by=request.user, **data)
        return Response(_contact(contact))


# ---- the stage ------------------------------------------------------------------------------


class StageView(TadasuAPIView):
    @extend_schema(
        operation_id="stage_read",
        responses={200: out.StageSerializer, **problems(403, 404)},
        description="The steps this user may take now, each with what blocks it (as the case "
        "page's stage panel says it), and what others do next.",
    )
    def get(self, request: Request, ref: str) -> Response:
        case = self.case(request, ref)
        steps = [
            {
                "step": option.step.name,
                "label": str(option.step.label),
                "target": option.target,
                "allowed": option.allowed,
                "needs_reason": option.step.needs_reason,
                "blocked_because": [str(b) for b in option.blockers],
            }
            for option in steps_for(case, request.user)
        ]
        return Response(
            {
                "stage": case.stage,
                "stage_label": case.get_stage_display(),
                "stage_since": case.stage_since,
                "steps": steps,
                "next_by_others": [str(n) for n in next_by_others(case, request.user)],
            }
        )


class StepView(TadasuAPIView):
    @extend_schema(
        operation_id="stage_step",
        parameters=[OpenApiParameter("step", str, OpenApiParameter.PATH, enum=list(STEPS))],
        request=body_serializer(remedy_forms.TransitionForm, "StageStep"),
        responses={200: out.CaseDetailSerializer, **problems(400, 403, 404, 409)},
        description="Take a step. expected_stage is the stage as last read: if someone else "
        "moved the case meanwhile, the answer is 409.",
    )
    def post(self, request: Request, ref: str, step: str) -> Response:
        case = self.case(request, ref)
        if step not in STEPS:
            raise PermissionDenied(_("Unknown step."))
        data = cleaned(remedy_forms.TransitionForm, request.data, name="StageStep")
        case_transition(case=case, step=step, by=request.user, **data)
        return _case_response(self.case(request, ref))


# ---- the ledger -----------------------------------------------------------------------------


class LedgerView(TadasuAPIView):
    @extend_schema(
        operation_id="ledger_read",
        responses={200: out.LedgerSerializer, **problems(403, 404)},
    )
    def get(self, request: Request, ref: str) -> Response:
        case = self.case(request, ref)
        entries = LedgerEntry.objects.filter(case=case).select_related("party").order_by("id")
        body = {
            "head": ledger.ledger_head(case),
            "balances": ledger.balances(case),
            "entries": list(entries),
        }
        response = Response(out.LedgerSerializer(body).data)
        response["ETag"] = f'"{body["head"]}"'
        return response


def _ledger_post_view(kind: str, name: str) -> type[TadasuAPIView]:
    form_class, service, title = LEDGER_FORMS[kind]

    class LedgerPostView(TadasuAPIView):
        @extend_schema(
            operation_id=f"ledger_{kind}",
            parameters=[IF_MATCH],
            request=body_serializer(form_class, name, exclude=("expected_head",)),
            responses={
                201: out.LedgerEntrySerializer(many=True),
                **problems(400, 403, 404, 409, 428),
            },
            description=f"{title} (the ledger form's fields and rules).",
        )
        def post(self, request: Request, ref: str) -> Response:
            case = self.editable_case(request, ref)
            data = cleaned(
                form_class,
                request.data,
                name=name,
                exclude=("expected_head",),
                extra={"expected_head": expected_head(request)},
                parties=Party.objects.filter(case=case).order_by("label"),
            )
            posted = service(case=case, by=request.user, **data)
            entries = posted if isinstance(posted, list | tuple) else [posted]
            response = Response(
                out.LedgerEntrySerializer(entries, many=True).data, status=status.HTTP_201_CREATED
            )
            response["ETag"] = etag_of(case)
            return response

    LedgerPostView.__name__ = f"Ledger{name}View"
    return LedgerPostView


PaymentView = _ledger_post_view("payment", "Payment")
CollectionView = _ledger_post_view("collection", "Collection")


# ---- background jobs ------------------------------------------------------------------------


def _job(job: Job) -> dict:
    done, total = current_progress(job)
    return {
        "id": job.pk,
        "kind": job.kind,
        "state": job.state,
        "done": done,
        "total": total,
        "summary": job.summary,
        "error": job.error,
        "created_at": job.created_at,
        "finished_at": job.finished_at,
    }


class JobsView(TadasuAPIView):
    @extend_schema(
        operation_id="jobs_list",
        responses={200: out.JobSerializer(many=True), **problems(403)},
        description="The newest 50 jobs this user may see, as on the jobs page.",
    )
    def get(self, request: Request) -> Response:
        jobs = visible_jobs(request._request.membership).order_by("-created_at", "-id")[:50]
        return Response(out.JobSerializer([_job(j) for j in jobs], many=True).data)


class JobView(TadasuAPIView):
    @extend_schema(
        operation_id="job_read",
        responses={200: out.JobSerializer, **problems(403, 404)},
        description="A job's state and progress (done of total), to poll while it runs.",
    )
    def get(self, request: Request, job_id: int) -> Response:
        job = get_object_or_404(visible_jobs(request._request.membership), pk=job_id)
        return Response(out.JobSerializer(_job(job)).data)
