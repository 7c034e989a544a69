"""A job worker gives way to the web server: it lowers its own scheduling priority by
TADASU_JOB_NICE (settings.JOB_NICE) before it takes any task, and not at all with 0."""

import os

import pytest
from django.core.management import call_command


@pytest.fixture
def nice_calls(monkeypatch):
    calls = []
    monkeypatch.setattr(os, "nice", lambda increment: calls.append(increment) or increment)
    return calls


@pytest.mark.django_db(transaction=True)
def test_a_worker_lowers_its_priority_before_working(settings, nice_calls):
    settings.JOB_NICE = 10
    call_command("run_jobs", "--batch")
    assert nice_calls == [10]


@pytest.mark.django_db(transaction=True)
def test_nice_zero_keeps_the_workers_priority(settings, nice_calls):
    settings.JOB_NICE = 0
    call_command("run_jobs", "--batch")
    assert nice_calls == []
