"""Ops' replenishment admin: configuration (and loading it from a file), sources, runs, run now,
and the contact admin's fair bulk assignment."""

import json

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from campaigns.admin import ConfigForm
from campaigns.config import config_to_json
from campaigns.models import (
    ReplenishmentConfig,
    ReplenishmentRun,
    ReplenishmentSource,
    RunTrigger,
    SourceLead,
    SourceLeadStatus,
)
from campaigns.services import lease_acquire, source_upload
from leads.models import Contact, OwnerChange, OwnerChangeSource
from tests.campaigns.conftest import as_csv, as_json, lead
from tests.factories import ContactFactory, OwnerFactory

pytestmark = pytest.mark.django_db


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def test_configuration_opens_its_single_row_with_the_defaults(admin_client_ops):
    response = admin_client_ops.get(reverse("admin:campaigns_replenishmentconfig_changelist"))
    assert response.status_code == 302
    assert ReplenishmentConfig.objects.get().min_total_leads == 50
    page = admin_client_ops.get(response["Location"])
    assert page.status_code == 200
    assert "min_time_between_uploads_hours" in page.content.decode()  # the JSON to start a file from


def _config_post(config: ReplenishmentConfig, **changes) -> dict:
    data = {}
    for name in ConfigForm._meta.fields:
        value = getattr(config, name)
        data[name] = "" if value is None else ("on" if value is True else value)
    if not config.is_enabled:
        data.pop("is_enabled")
    data.update(changes)
    return data


def test_a_target_below_its_minimum_is_refused_with_a_message(admin_client_ops):
    config = ReplenishmentConfig.objects.create(pk=1)
    url = reverse("admin:campaigns_replenishmentconfig_change", args=[1])
    response = admin_client_ops.post(url, _config_post(config, target_total_leads=40))
    assert response.status_code == 200
    assert "The target (40) is below the minimum (50)." in response.content.decode()
    assert ReplenishmentConfig.objects.get().target_total_leads == 150


def test_configuration_loads_from_a_json_file(admin_client_ops):
    config = ReplenishmentConfig.objects.create(pk=1)
    url = reverse("admin:campaigns_replenishmentconfig_change", args=[1])
    upload = SimpleUploadedFile(
        "automation_config.json",
        json.dumps(
            {"upload_controls": {"max_upload_per_run": 25, "min_time_between_uploads_hours": 2}}
        ).encode(),
    )
    response = admin_client_ops.post(url, {**_config_post(config), "load_json": upload})
    assert response.status_code == 302
    saved = ReplenishmentConfig.objects.get()
    assert (saved.max_per_run, saved.cooldown_minutes, saved.min_total_leads) == (25, 120, 50)


def test_a_bad_configuration_file_is_refused_and_nothing_changes(admin_client_ops):
    config = ReplenishmentConfig.objects.create(pk=1)
    url = reverse("admin:campaigns_replenishmentconfig_change", args=[1])
    upload = SimpleUploadedFile("c.json", b'{"mix": {"A+": 90}}')
    response = admin_client_ops.post(url, {**_config_post(config), "load_json": upload})
    assert response.status_code == 200
    assert "c.json: mix_b: The mix must add up to 100% (it adds up to 170%)." in response.content.decode()
    assert json.loads(config_to_json(ReplenishmentConfig.objects.get()))["mix"] == {
        "A+": 20,
        "A": 50,
        "B": 30,
    }


def test_uploading_a_source_stages_rows_and_reports_bad_ones_with_their_line(admin_client_ops, superuser):
    text = as_csv([lead(1), lead(2, email="nope"), lead(3)])
    response = admin_client_ops.post(
        reverse("admin:campaigns_replenishmentsource_add"),
        {"name": "Expo", "upload": SimpleUploadedFile("expo.csv", text.encode()), "is_active": "on"},
    )
    assert response.status_code == 302
    source = ReplenishmentSource.objects.get()
    assert (source.name, source.kind, source.created_by, source.row_count, source.bad_row_count) == (
        "Expo",
        "upload",
        superuser,
        3,
        1,
    )
    assert messages_of(response) == [
        "2 lead rows staged for replenishment.",
        "1 bad row skipped: line 3: email 'nope' is not valid.",
        f'The replenishment source “<a href="/admin/campaigns/replenishmentsource/{source.pk}/change/">'
        "Expo</a>” was added successfully.",
    ]


def test_uploading_an_invalid_file_is_refused_whole(admin_client_ops):
    response = admin_client_ops.post(
        reverse("admin:campaigns_replenishmentsource_add"),
        {"name": "Broken", "upload": SimpleUploadedFile("broken.json", b"[{"), "is_active": "on"},
    )
    assert response.status_code == 200
    assert "broken.json is not valid JSON" in response.content.decode()
    assert not ReplenishmentSource.objects.exists() and not SourceLead.objects.exists()


def test_uploading_a_file_over_the_size_limit_is_refused_with_a_message_not_a_500(admin_client_ops, settings):
    settings.LEAD_FILE_MAX_MB = 1
    big = ("name,email,tier\n" + "Lead,lead@example.org,A\n" * 50000).encode()  # 1.1 MiB
    response = admin_client_ops.post(
        reverse("admin:campaigns_replenishmentsource_add"),
        {"name": "Big", "upload": SimpleUploadedFile("big.csv", big), "is_active": "on"},
    )
    assert response.status_code == 200
    assert "big.csv is 1.1 MB; lead files may be at most 1 MB (LEAD_FILE_MAX_MB)" in response.content.decode()
    assert not ReplenishmentSource.objects.exists() and not SourceLead.objects.exists()


def test_adding_a_path_source(admin_client_ops, lead_file):
    path = lead_file("feed.json", as_json([lead(1)]))
    response = admin_client_ops.post(
        reverse("admin:campaigns_replenishmentsource_add"), {"path": str(path), "is_active": "on"}
    )
    assert response.status_code == 302
    source = ReplenishmentSource.objects.get()
    assert (source.kind, source.name, source.row_count) == ("path", "feed.json", 1)
    missing = admin_client_ops.post(
        reverse("admin:campaigns_replenishmentsource_add"), {"path": str(path) + ".gone", "is_active": "on"}
    )
    assert "Cannot read" in missing.content.decode()


def test_run_now_and_dry_run_buttons(admin_client_ops, superuser, config, team):
    source_upload(name="hot", file_name="hot.json", data=as_json([lead(1), lead(2)]))
    url = reverse("admin:campaigns_replenishmentrun_run_now")

    admin_client_ops.post(url, {"dry_run": "1"})
    assert not ReplenishmentRun.objects.exists() and not Contact.objects.exists()

    response = admin_client_ops.post(url)
    assert response.status_code == 302
    run = ReplenishmentRun.objects.get()
    assert (run.trigger, run.triggered_by, run.created) == (RunTrigger.ADMIN, superuser, 2)
    assert "Created: 2 contacts" in messages_of(response)[-1]

    changelist = admin_client_ops.get(reverse("admin:campaigns_replenishmentrun_changelist"))
    assert "Run replenishment now" in changelist.content.decode()
    detail = admin_client_ops.get(reverse("admin:campaigns_replenishmentrun_change", args=[run.pk]))
    assert "Selected: 2 leads for upload" in detail.content.decode()


def test_run_now_while_a_run_holds_the_lock_says_so(admin_client_ops, config):
    lease_acquire()
    response = admin_client_ops.post(reverse("admin:campaigns_replenishmentrun_run_now"))
    assert "Another run holds the lock" in messages_of(response)[0]
    # recorded as skipped, never as a run that ran
    assert list(ReplenishmentRun.objects.values_list("status", flat=True)) == ["skipped"]


def test_managers_read_runs_but_do_not_start_them_from_the_admin(manager_client):
    assert manager_client.get(reverse("admin:campaigns_replenishmentrun_changelist")).status_code == 200
    assert manager_client.post(reverse("admin:campaigns_replenishmentrun_run_now")).status_code == 403


def test_staged_rows_and_lock_pages_load(admin_client_ops, config):
    source_upload(name="hot", file_name="hot.csv", data=as_csv([lead(1), lead(2, email="x")]))
    lease_acquire()
    rows = admin_client_ops.get(reverse("admin:campaigns_sourcelead_changelist") + "?status=invalid")
    assert rows.status_code == 200 and "email &#x27;x&#x27; is not valid" in rows.content.decode()
    assert admin_client_ops.get(reverse("admin:campaigns_replenishmentlease_changelist")).status_code == 200
    assert SourceLead.objects.filter(status=SourceLeadStatus.INVALID).count() == 1


def test_contact_admin_assigns_selected_contacts_fairly(admin_client_ops, superuser):
    owner = OwnerFactory(daily_call_capacity=2, first_name="Fay", last_name="Rota")
    unowned = ContactFactory.create_batch(3, owner=None)
    owned = ContactFactory(owner=OwnerFactory(daily_call_capacity=0))

    response = admin_client_ops.post(
        reverse("admin:leads_contact_changelist"),
        {"action": "assign_fairly", ACTION_CHECKBOX_NAME: [c.pk for c in [*unowned, owned]]},
    )

    assert response.status_code == 302
    assert messages_of(response) == [
        "Assigned 2 leads (Fay Rota 2). 1 wait for room (everyone at their 24-hour quota or away). "
        "1 already had an active owner (or are archived, merged or do-not-contact): left as they are."
    ]
    assert Contact.objects.filter(owner=owner).count() == 2
    assert set(OwnerChange.objects.values_list("source", "changed_by")) == {
        (OwnerChangeSource.ASSIGNMENT, superuser.pk)
    }


@pytest.mark.parametrize("kind", ["csv", "json"])
def test_the_example_lead_files_are_linked_from_the_upload_form_and_import_cleanly(
    admin_client_ops, config, kind
):
    # given the example linked from the upload form, downloaded as a person would
    from django.contrib.staticfiles import finders

    from campaigns.admin import EXAMPLE_FILES

    form = admin_client_ops.get(reverse("admin:campaigns_replenishmentsource_add")).content.decode()
    url = f"/static/{EXAMPLE_FILES[kind]}"
    assert f'href="{url}"' in form
    # (tests serve no static files: collectstatic puts it where WhiteNoise serves it from)
    with open(finders.find(EXAMPLE_FILES[kind]), "rb") as example:
        data = example.read()

    # when it is uploaded
    response = admin_client_ops.post(
        reverse("admin:campaigns_replenishmentsource_add"),
        {"upload": SimpleUploadedFile(f"example-leads.{kind}", data), "is_active": "on"},
    )

    # then every row is staged and none is bad
    assert response.status_code == 302
    source = ReplenishmentSource.objects.get()
    assert (source.row_count, source.bad_row_count) == (4, 0)
    assert messages_of(response)[0] == "4 lead rows staged for replenishment."
    assert set(source.leads.values_list("tier", flat=True)) == {"A+", "A", "B", ""}  # one by score


def test_an_upload_with_no_good_row_is_a_warning_not_a_success(admin_client_ops):
    from django.contrib.messages import SUCCESS, WARNING

    text = as_csv([lead(1, email="nope"), lead(2, email="nope either")])
    response = admin_client_ops.post(
        reverse("admin:campaigns_replenishmentsource_add"),
        {"upload": SimpleUploadedFile("bad.csv", text.encode()), "is_active": "on"},
    )

    levels = {str(m): m.level for m in get_messages(response.wsgi_request)}
    assert levels["0 lead rows staged for replenishment."] == WARNING
    assert SUCCESS not in [level for text, level in levels.items() if "staged" in text or "skipped" in text]


def test_bad_staged_rows_show_their_values_as_read(admin_client_ops, config):
    # given a file with a bad row
    source_upload(
        name="expo",
        file_name="expo.csv",
        data=as_csv([lead(1), lead(2, email="not-an-email", tier="Z", phone="050 999")]),
    )
    bad = SourceLead.objects.get(status=SourceLeadStatus.INVALID)

    # when ops look at the staged rows and at the bad one
    listing = admin_client_ops.get(reverse("admin:campaigns_sourcelead_changelist") + "?status=invalid")
    detail = admin_client_ops.get(reverse("admin:campaigns_sourcelead_change", args=[bad.pk]))

    # then its values are shown as they were in the file, not dashes
    row = listing.content.decode().split('class="field-name"', 1)[1].split("</tr>", 1)[0]
    for value in ("Lead 2", "not-an-email", "050 999", ">Z<"):
        assert value in row
    assert "&quot;email&quot;: &quot;not-an-email&quot;" in detail.content.decode()
    assert detail.status_code == 200


def test_a_bad_row_that_is_not_an_object_shows_itself(admin_client_ops, config):
    source_upload(
        name="odd",
        file_name="odd.json",
        data='[{"name": "Ok", "email": "ok@example.org", "tier": "A"}, "just a string"]',
    )

    listing = admin_client_ops.get(reverse("admin:campaigns_sourcelead_changelist") + "?status=invalid")

    assert '<td class="field-name">&quot;just a string&quot;</td>' in listing.content.decode()
