"""A job's page (the uploader waits on it) and the municipality's list of jobs."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from cases.access import member_required

from . import selectors
from .services import current_progress

# The page reloads itself while the job runs (a meta refresh: no script, so the strict
# Content-Security-Policy has nothing to allow).
REFRESH_SECONDS = 2


@member_required
def job_list(request: HttpRequest) -> HttpResponse:
    jobs = list(selectors.visible_jobs(request.membership)[:50])
    return render(request, "jobs/list.html", {"jobs": jobs})


@member_required
def job_detail(request: HttpRequest, job_id: int) -> HttpResponse:
    job = get_object_or_404(selectors.visible_jobs(request.membership), pk=job_id)
    done, total = current_progress(job)
    return render(
        request,
        "jobs/detail.html",
        {
            "job": job,
            "done": done,
            "total": total,
            "percent": min(100, done * 100 // total) if total else None,
            "refresh": None if job.finished else REFRESH_SECONDS,
        },
    )
