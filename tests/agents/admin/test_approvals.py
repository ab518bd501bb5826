"""The admin shows approvals as read-only history: their own pages and an inline on the run."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from agents.models import Agent, Approval
from agents.runs import services
from tests.factories import make_run

pytestmark = pytest.mark.django_db


def test_approvals_are_listed_shown_on_their_run_and_never_editable(admin_client, user):
    run = make_run(user)
    agent = services.agent_create(run=run, role=Agent.Role.PLANNER, model="m")
    approval = Approval.objects.create(
        run=run,
        agent=agent,
        kind="tool",
        call_id="call_1",
        tool="remember",
        arguments={"content": "tea"},
        status="rejected",
        reason="not now",
        decided_by=user,
        expires_at=timezone.now() + timedelta(days=1),
    )
    listing = admin_client.get(reverse("admin:agents_approval_changelist"))
    assert listing.status_code == 200 and b"remember" in listing.content
    page = admin_client.get(reverse("admin:agents_approval_change", args=[approval.pk]))
    assert page.status_code == 200 and b"not now" in page.content and b'name="_save"' not in page.content
    assert admin_client.get(reverse("admin:agents_approval_add")).status_code == 403
    assert admin_client.post(reverse("admin:agents_approval_delete", args=[approval.pk])).status_code == 403
    run_page = admin_client.get(reverse("admin:agents_run_change", args=[run.pk]))
    assert run_page.status_code == 200 and b"not now" in run_page.content
    assert Approval.objects.filter(pk=approval.pk, status="rejected").exists()
