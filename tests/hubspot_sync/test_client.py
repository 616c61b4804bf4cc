"""The HubSpot hubspot against the fake: paging, retries by policy, the rate budgets, errors."""

import threading

import pytest

from hubspot_sync.client import DailyLimitReached, HubSpotClient, HubSpotError
from tests.fakes.hubspot_server import FakeHubSpot

pytestmark = pytest.mark.usefixtures("fake_hubspot")


class FakeClock:
    """Shared by the hubspot and the fake server: the hubspot's sleeps move it forward, so rate
    limits are judged on the same time line without real waiting."""

    def __init__(self) -> None:
        self.now = 1000.0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds


def _contacts(fake, n):
    from tests.hubspot_sync.conftest import T0

    for i in range(1, n + 1):
        fake.put("contacts", str(i), modified=T0, firstname=f"C{i}")


def test_list_pages_follow_paging_next_after_until_it_is_missing(fake_hubspot, hubspot):
    # given 230 contacts: pages of 100
    _contacts(fake_hubspot, 230)

    # when
    pages = list(
        hubspot.pages(lambda after: hubspot.list_page("contacts", properties=["firstname"], after=after))
    )

    # then
    assert [len(p.results) for p in pages] == [100, 100, 30]
    assert [r["id"] for p in pages for r in p.results] == [str(i) for i in range(1, 231)]
    assert fake_hubspot.requests[0].headers["authorization"] == "Bearer test-token"


def test_list_page_asks_50_a_page_with_property_history(fake_hubspot, hubspot):
    _contacts(fake_hubspot, 60)
    page = hubspot.list_page(
        "contacts", properties=["firstname"], properties_with_history=["hubspot_owner_id"]
    )
    assert len(page.results) == 50
    assert fake_hubspot.requests[-1].query["limit"] == ["50"]


@pytest.mark.parametrize(
    ("policy", "retry_after", "expected_wait"),
    [("TEN_SECONDLY_ROLLING", None, 10.0), ("SECONDLY", None, 1.0), ("TEN_SECONDLY_ROLLING", 3, 3.0)],
)
def test_429_is_retried_after_the_wait_its_policy_asks(
    fake_hubspot, hubspot, sleeps, policy, retry_after, expected_wait
):
    # given
    fake_hubspot.rate_limit(policy, retry_after=retry_after)

    # when
    page = hubspot.owners_page()

    # then
    assert page.results == []
    assert sleeps == [expected_wait]
    assert hubspot.stats.retries == 1


def test_daily_429_stops_at_once_without_retrying(fake_hubspot, hubspot, sleeps):
    fake_hubspot.rate_limit("DAILY", times=3)
    with pytest.raises(DailyLimitReached) as caught:
        hubspot.owners_page()
    assert sleeps == []
    assert "daily limit" in str(caught.value)
    assert "fake-daily-correlation" in str(caught.value)


def test_5xx_and_423_back_off_exponentially_then_succeed(fake_hubspot, hubspot, sleeps):
    fake_hubspot.fail(502, times=2)
    fake_hubspot.fail(423)
    hubspot.owners_page()
    assert sleeps == [1.0, 2.0, 4.0]


def test_attempts_are_capped_and_the_error_says_what_failed(fake_hubspot, hubspot, sleeps):
    fake_hubspot.fail(503, times=10)
    with pytest.raises(HubSpotError) as caught:
        hubspot.list_page("contacts", properties=["email"])
    error = caught.value
    assert (error.status, error.category, error.correlation_id) == (
        503,
        "INTERNAL_ERROR",
        "fake-503-correlation",
    )
    assert "GET /crm/v3/objects/contacts" in str(error)
    assert len(fake_hubspot.requests) == 4  # HUBSPOT_MAX_ATTEMPTS
    assert len(sleeps) == 3


def test_a_4xx_other_than_429_is_not_retried(fake_hubspot, hubspot, sleeps):
    fake_hubspot.fail(400, category="VALIDATION_ERROR")
    with pytest.raises(HubSpotError) as caught:
        hubspot.owners_page()
    assert caught.value.status == 400
    assert sleeps == []


def test_a_slow_answer_times_out_and_is_retried(fake_hubspot, sleeps):
    # given the first answer takes longer than the hubspot waits
    fake_hubspot.script(200, {"results": []}, delay=2.0)
    hubspot = HubSpotClient(timeout=0.3, sleep=sleeps.append, jitter=lambda: 0.0)

    # when / then: the second try gets the normal answer
    assert hubspot.owners_page().results == []
    assert sleeps == [1.0]


def test_a_bad_token_is_an_error_with_its_category(fake_hubspot, sleeps):
    hubspot = HubSpotClient(token="wrong", sleep=sleeps.append)
    with pytest.raises(HubSpotError) as caught:
        hubspot.owners_page()
    assert (caught.value.status, caught.value.category) == (401, "INVALID_AUTHENTICATION")


def test_search_past_10000_results_is_a_400_from_the_fake(fake_hubspot, hubspot):
    with pytest.raises(HubSpotError) as caught:
        hubspot.search_page(
            "contacts", filters=[], sort={"propertyName": "lastmodifieddate"}, properties=[], after=10_000
        )
    assert caught.value.status == 400


def test_associations_follow_per_input_paging(settings):
    # given a deal with five contacts and a fake that pages associations two at a time
    with FakeHubSpot(
        token="t", ten_secondly_limit=None, search_per_second=None, association_page_size=2
    ) as fake:
        settings.HUBSPOT_API_BASE = fake.base_url
        for contact in ("1", "2", "3", "4", "5"):
            fake.associate("deals", "77", "contacts", contact)
        fake.associate("deals", "78", "contacts", "9")
        hubspot = HubSpotClient(token="t", requests_per_second=0, search_requests_per_second=0)

        # when
        found = hubspot.associations("deals", "contacts", ["77", "78", "79"])

    # then
    assert found == {"77": ["1", "2", "3", "4", "5"], "78": ["9"], "79": []}
    assert fake.requests[1].body["inputs"] == [{"id": "77", "after": "2"}]


def test_object_path_is_one_setting_for_date_based_versions(fake_hubspot):
    hubspot = HubSpotClient(objects_path="/crm/objects/2026-03")
    assert hubspot.associations_path == "/crm/associations/2026-03"
    assert hubspot._sibling("owners") == "/crm/owners/2026-03"
    assert HubSpotClient().associations_path == "/crm/v4/associations"


def test_rate_budgets_keep_under_the_fakes_limits(settings):
    # given a fake enforcing HubSpot's limits (100 per 10 s, 5 searches a second) on a shared clock
    clock = FakeClock()
    with FakeHubSpot(token="t", clock=clock) as fake:
        settings.HUBSPOT_API_BASE = fake.base_url
        hubspot = HubSpotClient(
            token="t", requests_per_second=9, search_requests_per_second=4, clock=clock, sleep=clock.sleep
        )
        started = clock()

        # when 150 ordinary requests and 30 searches go out as fast as the budgets allow
        for _ in range(150):
            hubspot.owners_page()
        for _ in range(30):
            hubspot.search_page(
                "contacts", filters=[], sort={"propertyName": "lastmodifieddate"}, properties=[]
            )

        # then the fake never had to refuse one, and the budgets spaced them (no real waiting)
        assert fake.rate_limited == []
        assert hubspot.stats.retries == 0
        assert clock() - started >= 149 / 9 + 29 / 4 - 1


def test_without_budgets_the_fake_refuses_and_the_client_recovers_by_policy(settings):
    # the control for the test above: the fake really does enforce its limits
    clock = FakeClock()
    with FakeHubSpot(token="t", clock=clock) as fake:
        settings.HUBSPOT_API_BASE = fake.base_url
        hubspot = HubSpotClient(
            token="t", requests_per_second=0, search_requests_per_second=0, clock=clock, sleep=clock.sleep
        )
        for _ in range(12):
            hubspot.search_page(
                "contacts", filters=[], sort={"propertyName": "lastmodifieddate"}, properties=[]
            )

    assert fake.rate_limited, "the fake should have refused searches over 5 a second"
    assert hubspot.stats.retries == len(fake.rate_limited)
    assert set(hubspot.stats.sleeps) == {1.0}  # SECONDLY policy


def test_a_wait_longer_than_a_worker_should_hold_ends_the_request(fake_hubspot, hubspot, sleeps):
    # 477 "migration in progress" may ask for hours: the run fails now and resumes on schedule
    fake_hubspot.script(
        477, {"status": "error", "message": "Migration in progress"}, headers={"Retry-After": "3600"}
    )
    with pytest.raises(HubSpotError) as caught:
        hubspot.owners_page()
    assert caught.value.status == 477
    assert sleeps == []


def test_477_with_a_short_retry_after_is_retried_after_it(fake_hubspot, hubspot, sleeps):
    fake_hubspot.script(
        477, {"status": "error", "message": "Migration in progress"}, headers={"Retry-After": "5"}
    )
    hubspot.owners_page()
    assert sleeps == [5.0]
