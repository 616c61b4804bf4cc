"""The replenishment page and its two actions."""

import pytest
from django.urls import reverse

from campaigns.models import ReplenishmentRun, RunTrigger
from campaigns.services import source_upload
from leads.models import Contact, OwnerChange, OwnerChangeSource, Tier
from tests.campaigns.conftest import as_json, lead
from tests.factories import ContactFactory, OwnerFactory

pytestmark = pytest.mark.django_db
URL = "/replenishment/"
# Session, user, groups; config, inventory (2), daily cap, cooldown, waiting rows, duplicate
# lookups (4), lock, owners (2), rotation, waiting leads (2), runs, sources, uploaded today.
QUERY_BUDGET = 22


def test_manager_sees_inventory_thresholds_and_the_next_run(
    manager_client, config, team, django_assert_max_num_queries
):
    ContactFactory.create_batch(3, owner=team[0], tier=Tier.A_PLUS)
    ContactFactory(owner=None, tier=Tier.B)
    source_upload(name="hot leads", file_name="hot.json", data=as_json([lead(i) for i in range(4)]))
    OwnerFactory(first_name="Away", last_name="Person", away_until="2999-01-01")

    with django_assert_max_num_queries(QUERY_BUDGET):
        response = manager_client.get(URL)

    assert response.status_code == 200
    page = response.content.decode()
    assert 'data-testid="total-available">4<' in page
    assert "Total leads 4 below minimum 50" in page
    assert "A+ leads 3 below minimum 10" in page
    assert 'data-testid="would-create">4<' in page
    assert "Would assign 5 leads" in page  # the waiting B lead and the 4 new ones
    assert "away until" in page
    assert "hot leads" in page


def test_query_count_does_not_grow_with_runs_sources_and_owners(
    manager_client, config, team, django_assert_max_num_queries
):
    for i in range(5):
        source_upload(
            name=f"file {i}", file_name=f"f{i}.json", data=as_json([lead(i * 10 + j) for j in range(3)])
        )
        ReplenishmentRun.objects.create(
            started_at="2026-03-01T10:00Z", trigger=RunTrigger.SCHEDULE, status="not_needed"
        )
    OwnerFactory.create_batch(5)
    with django_assert_max_num_queries(QUERY_BUDGET):
        assert manager_client.get(URL).status_code == 200


def test_ops_see_it_too(ops_user, client, config):
    client.force_login(ops_user)
    assert client.get(URL).status_code == 200


def test_setters_may_not(setter_client):
    assert setter_client.get(URL).status_code == 403
    assert setter_client.post(reverse("replenishment-run")).status_code == 403
    assert setter_client.post(reverse("replenishment-assign")).status_code == 403


def test_anonymous_is_sent_to_login(client):
    response = client.get(URL)
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_wrong_methods(manager_client):
    assert manager_client.post(URL).status_code == 405
    assert manager_client.get(reverse("replenishment-run")).status_code == 405
    assert manager_client.get(reverse("replenishment-assign")).status_code == 405


def test_nav_link_only_for_managers_and_ops(manager_client, setter_client, config):
    assert f'href="{URL}"' in manager_client.get("/").content.decode()
    assert f'href="{URL}"' not in setter_client.get("/").content.decode()


def test_run_now_runs_and_reports(manager_client, manager, config, team):
    source_upload(name="hot", file_name="hot.json", data=as_json([lead(1)]))
    response = manager_client.post(reverse("replenishment-run"), follow=True)
    assert response.redirect_chain[-1][0] == URL
    run = ReplenishmentRun.objects.get()
    assert (run.trigger, run.triggered_by, run.created) == (RunTrigger.PAGE, manager, 1)
    assert "Created: 1 contact ·" in response.content.decode()


def test_assign_waiting_leads_now(manager_client, manager, team):
    waiting = ContactFactory.create_batch(4, owner=None)
    response = manager_client.post(reverse("replenishment-assign"), follow=True)
    assert "Assigned 4 leads" in response.content.decode()
    assert not Contact.objects.filter(pk__in=[c.pk for c in waiting], owner__isnull=True).exists()
    assert set(OwnerChange.objects.values_list("source", "changed_by")) == {
        (OwnerChangeSource.ASSIGNMENT, manager.pk)
    }


def test_upload_link_only_for_those_who_may_upload(manager_client, ops_user, client, config):
    # managers read sources but the admin's add page is 403 for them: no link
    page = manager_client.get(URL).content.decode()
    assert 'data-testid="upload-file"' not in page
    assert manager_client.get(reverse("admin:campaigns_replenishmentsource_add")).status_code == 403

    # ops see the link, and it opens the upload form
    client.force_login(ops_user)
    page = client.get(URL).content.decode()
    add_url = reverse("admin:campaigns_replenishmentsource_add")
    assert f'href="{add_url}" data-testid="upload-file"' in page
    assert client.get(add_url).status_code == 200


@pytest.mark.parametrize("who", ["manager", "ops"])
def test_dry_run_shows_what_a_run_would_do_and_does_nothing(request, client, config, team, who):
    client.force_login(request.getfixturevalue("manager" if who == "manager" else "ops_user"))
    source_upload(name="hot", file_name="hot.json", data=as_json([lead(1), lead(2)]))
    assert 'data-testid="dry-run"' in client.get(URL).content.decode()

    response = client.post(reverse("replenishment-dry-run"), follow=True)

    assert response.redirect_chain[-1][0] == URL
    page = response.content.decode()
    assert "<strong>Dry run</strong> (nothing was created or assigned)" in page
    assert "Selected: 2 leads for upload" in page
    assert "Would assign: " in page
    assert not ReplenishmentRun.objects.exists() and not Contact.objects.exists()


def test_dry_run_is_for_managers_and_ops_only_and_post_only(setter_client, manager_client):
    assert setter_client.post(reverse("replenishment-dry-run")).status_code == 403
    assert manager_client.get(reverse("replenishment-dry-run")).status_code == 405
