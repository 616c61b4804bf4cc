"""The HubSpot client against the fake: paging, 429s waited out by policy, retries of failures,
the rate budgets and the rate-limit headers, the heartbeat, errors."""

import logging
import threading
from itertools import pairwise

import pytest

from hubspot_sync.client import DailyLimitReached, HubSpotClient, HubSpotError, RateBudget, RateLimited
from tests.fakes.hubspot_server import FakeHubSpot

pytestmark = pytest.mark.usefixtures("fake_hubspot")


class FakeClock:
    """Shared by the client and the fake server: the client's sleeps move it forward, so rate
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
    [
        ("TEN_SECONDLY_ROLLING", None, 10.0),
        ("SECONDLY", None, 1.0),
        ("TEN_SECONDLY_ROLLING", 3, 3.0),  # Retry-After wins when sent
        ("SECONDLY", 0, 1.0),  # but never below a second, or a run of 429s would spin
    ],
)
def test_429_is_retried_after_the_window_its_policy_names(
    fake_hubspot, hubspot, sleeps, policy, retry_after, expected_wait
):
    # given
    fake_hubspot.rate_limit(policy, retry_after=retry_after)

    # when
    page = hubspot.owners_page()

    # then
    assert page.results == []
    assert sleeps == [expected_wait]
    assert (hubspot.stats.retries, hubspot.stats.rate_limited) == (1, 1)
    assert hubspot.stats.waited_seconds == expected_wait


def test_ten_secondly_429_waits_the_interval_hubspot_last_announced(fake_hubspot, hubspot, sleeps):
    # given an answer announcing a 2-second window, then a 429 (whose answer announces nothing)
    fake_hubspot.script(200, {"results": []}, headers={"X-HubSpot-RateLimit-Interval-Milliseconds": "2000"})
    fake_hubspot.rate_limit("TEN_SECONDLY_ROLLING")

    # when
    hubspot.owners_page()
    hubspot.owners_page()

    # then
    assert sleeps == [2.0]


def test_a_429_burst_longer_than_the_attempts_is_waited_out(fake_hubspot, hubspot, sleeps):
    # given twelve 429s in a row, three times HUBSPOT_MAX_ATTEMPTS (4)
    fake_hubspot.rate_limit("TEN_SECONDLY_ROLLING", times=12)

    # when
    page = hubspot.owners_page()

    # then the request waited out each window and got its answer
    assert page.results == []
    assert sleeps == [10.0] * 12
    assert len(fake_hubspot.requests) == 13
    stats = hubspot.stats
    assert (stats.requests, stats.retries, stats.rate_limited, stats.waited_seconds) == (13, 12, 12, 120.0)


def test_429s_use_none_of_the_attempts_failures_have(fake_hubspot, hubspot, sleeps):
    # given three failures (one fewer than HUBSPOT_MAX_ATTEMPTS) with a 429 burst between them
    fake_hubspot.fail(503, times=2)
    fake_hubspot.rate_limit("TEN_SECONDLY_ROLLING", times=6)
    fake_hubspot.fail(503)

    # when
    page = hubspot.owners_page()

    # then the failures backed off 1, 2, 4 s around the 429 waits, and the fourth try got through
    assert page.results == []
    assert sleeps == [1.0, 2.0, *[10.0] * 6, 4.0]
    assert hubspot.stats.retries == 9


def test_failures_still_end_the_request_after_max_attempts_with_429s_between(fake_hubspot, hubspot, sleeps):
    # given
    fake_hubspot.fail(503, times=2)
    fake_hubspot.rate_limit("TEN_SECONDLY_ROLLING", times=6)
    fake_hubspot.fail(503, times=10)

    # when / then: the fourth failure ends it, however many 429s came between
    with pytest.raises(HubSpotError) as caught:
        hubspot.owners_page()
    assert caught.value.status == 503
    assert len(fake_hubspot.requests) == 2 + 6 + 2
    assert hubspot.stats.rate_limited == 6


def test_a_429_burst_past_the_deadline_raises_rate_limited(fake_hubspot, settings, sleeps):
    # given a deadline of 35 s and a burst that does not end
    settings.HUBSPOT_RATE_LIMIT_DEADLINE_SECONDS = 35
    hubspot = HubSpotClient(sleep=sleeps.append, jitter=lambda: 0.0)
    fake_hubspot.rate_limit("TEN_SECONDLY_ROLLING", times=100)

    # when
    with pytest.raises(RateLimited) as caught:
        hubspot.owners_page()

    # then it waited three windows and gave up before a fourth would pass the deadline
    assert sleeps == [10.0, 10.0, 10.0]
    error = caught.value
    assert isinstance(error, HubSpotError)
    assert (error.status, error.policy, error.correlation_id) == (
        429,
        "TEN_SECONDLY_ROLLING",
        "fake-ten_secondly_rolling-correlation",
    )
    assert "after waiting 30 s through 4 429s" in str(error)
    assert "35 s deadline" in str(error)
    assert (hubspot.stats.rate_limited, hubspot.stats.waited_seconds) == (4, 30.0)


def test_a_retry_after_longer_than_the_deadline_raises_rate_limited_without_waiting(
    fake_hubspot, hubspot, sleeps
):
    fake_hubspot.rate_limit("TEN_SECONDLY_ROLLING", retry_after=3600)
    with pytest.raises(RateLimited) as caught:
        hubspot.owners_page()
    assert sleeps == []
    assert "after waiting 0 s through 1 429s; the next wait (3600 s)" in str(caught.value)


def test_daily_429_stops_at_once_without_retrying(fake_hubspot, hubspot, sleeps):
    fake_hubspot.rate_limit("DAILY", times=3)
    with pytest.raises(DailyLimitReached) as caught:
        hubspot.owners_page()
    assert sleeps == []
    assert "daily limit" in str(caught.value)
    assert "fake-daily-correlation" in str(caught.value)
    assert (hubspot.stats.rate_limited, hubspot.stats.retries) == (1, 0)


def test_each_429_wait_is_logged_with_its_policy_wait_and_correlation_id(fake_hubspot, hubspot, caplog):
    fake_hubspot.rate_limit("SECONDLY", times=2)
    with caplog.at_level(logging.WARNING, logger="hubspot_sync.client"):
        hubspot.owners_page()
    waits = [r for r in caplog.records if r.getMessage() == "hubspot.retry"]
    assert [(r.policy, r.wait, r.correlation_id) for r in waits] == [
        ("SECONDLY", 1.0, "fake-secondly-correlation")
    ] * 2


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

        # when 1,000 requests (850 ordinary, 150 searches) go out as fast as the budgets allow
        for _ in range(850):
            hubspot.owners_page()
        for _ in range(150):
            hubspot.search_page(
                "contacts", filters=[], sort={"propertyName": "lastmodifieddate"}, properties=[]
            )

        # then the fake never had to refuse one, and the budgets spaced them (no real waiting)
        assert fake.rate_limited == []
        assert (hubspot.stats.retries, hubspot.stats.rate_limited) == (0, 0)
        assert clock() - started >= 849 / 9 + 149 / 4 - 1


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
    assert hubspot.stats.retries == hubspot.stats.rate_limited == len(fake.rate_limited)
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


def _sent_at(hubspot: HubSpotClient, clock: FakeClock) -> list[float]:
    """The clock's reading at each request the client sends from now on (the fake clock stands
    still while a request is under way)."""
    times: list[float] = []
    hubspot.session.hooks["response"].append(lambda response, *args, **kwargs: times.append(clock()))
    return times


def _gaps(times: list[float]) -> list[float]:
    return [round(b - a, 3) for a, b in pairwise(times)]


def test_a_429_halves_the_budget_which_recovers_after_runs_of_successes(fake_hubspot):
    # given a budget of 2 requests a second on a fake clock, and a 429 on the third request
    clock = FakeClock()
    hubspot = HubSpotClient(requests_per_second=2, clock=clock, sleep=clock.sleep, jitter=lambda: 0.0)
    sent = _sent_at(hubspot, clock)
    fake_hubspot.script(200, {"results": []}, times=2)
    fake_hubspot.rate_limit("TEN_SECONDLY_ROLLING")

    # when 63 requests go out as fast as the budget allows
    for _ in range(63):
        hubspot.owners_page()

    # then: 0.5 s apart, the 10 s wait, 1 s apart (rate halved) for a run of ten successes, then
    # closer by a tenth of the configured rate after each run of ten, back to 0.5 s after fifty
    # (each new rate spaces the request after next: the next one was scheduled already)
    gaps = _gaps(sent)
    assert gaps[:3] == [0.5, 0.5, 10.0]
    assert gaps[3:13] == [1.0] * 10
    assert gaps[13:23] == [round(1 / 1.2, 3)] * 10
    assert gaps[-10:] == [0.5] * 10
    assert gaps[3:] == sorted(gaps[3:], reverse=True)


def test_a_secondly_429_slows_the_search_budget_only(fake_hubspot):
    # given budgets of 8 a second (general) and 4 a second (search)
    clock = FakeClock()
    hubspot = HubSpotClient(
        requests_per_second=8, search_requests_per_second=4, clock=clock, sleep=clock.sleep
    )
    fake_hubspot.rate_limit("SECONDLY", match=lambda request: request.path.endswith("/search"))

    # when a search is refused once, then more searches and ordinary requests go out
    search_sent = _sent_at(hubspot, clock)
    for _ in range(3):
        hubspot.search_page("contacts", filters=[], sort={"propertyName": "lastmodifieddate"}, properties=[])
    hubspot.session.hooks["response"].clear()
    sent = _sent_at(hubspot, clock)
    for _ in range(3):
        hubspot.owners_page()

    # then searches are 0.5 s apart (rate halved), ordinary requests still 0.125 s
    assert _gaps(search_sent) == [1.0, 0.5, 0.5]
    assert _gaps(sent) == [0.125, 0.125]


def test_rate_budget_slows_down_no_further_than_its_floor():
    clock = FakeClock()
    budget = RateBudget(9, clock=clock, sleep=clock.sleep)
    for _ in range(10):
        budget.slow_down()
    assert budget.rate == 0.5
    assert budget.interval == 2.0
    for _ in range(1000):
        budget.succeeded()
    assert budget.rate == 9


def test_rate_budget_switched_off_is_not_slowed_by_429s():
    budget = RateBudget(0, clock=FakeClock(), sleep=lambda seconds: None)
    budget.slow_down()
    assert (budget.rate, budget.interval) == (0, 0.0)


@pytest.mark.parametrize(("remaining", "expected_sleeps"), [("0", [2.0]), ("1", [2.0]), ("37", [])])
def test_a_spent_window_in_the_headers_pauses_for_an_interval_before_the_next_request(
    fake_hubspot, remaining, expected_sleeps
):
    # given an answer saying how much of a 2-second window is left (budgets off)
    clock = FakeClock()
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        clock.sleep(seconds)

    hubspot = HubSpotClient(clock=clock, sleep=sleep)
    sent = _sent_at(hubspot, clock)
    fake_hubspot.script(
        200,
        {"results": []},
        headers={
            "X-HubSpot-RateLimit-Max": "100",
            "X-HubSpot-RateLimit-Remaining": remaining,
            "X-HubSpot-RateLimit-Interval-Milliseconds": "2000",
        },
    )

    # when
    hubspot.owners_page()
    hubspot.owners_page()

    # then the second request waited for the window to free (and no 429 was needed)
    assert sleeps == expected_sleeps
    assert _gaps(sent) == [sum(expected_sleeps)]
    assert hubspot.stats.rate_limited == 0


def test_a_budget_above_the_accounts_limit_still_gets_every_answer(settings):
    # given a budget higher than the fake allows (15/s against 100 per 10 s) on a shared clock
    clock = FakeClock()
    with FakeHubSpot(token="t", clock=clock) as fake:
        settings.HUBSPOT_API_BASE = fake.base_url
        hubspot = HubSpotClient(token="t", requests_per_second=15, clock=clock, sleep=clock.sleep)

        # when
        for _ in range(500):
            hubspot.owners_page()

    # then every request got its answer, with at most one 429 per 100: the fake's Remaining header
    # pauses the client before most, and a 429 is waited out for a whole window, which empties it
    assert hubspot.stats.rate_limited == len(fake.rate_limited) <= 5
    assert hubspot.stats.requests == 500 + len(fake.rate_limited)


def test_heartbeat_is_called_before_each_request_and_every_10_s_of_a_long_wait(fake_hubspot):
    # given a 429 asking for 35 s
    events: list = []
    hubspot = HubSpotClient(sleep=lambda seconds: events.append(seconds))
    hubspot.heartbeat = lambda: events.append("beat")  # settable after construction
    fake_hubspot.rate_limit("TEN_SECONDLY_ROLLING", retry_after=35)

    # when
    hubspot.owners_page()

    # then: a beat before the first request, before each 10 s piece of the wait, and before the retry
    assert events == ["beat", "beat", 10.0, "beat", 10.0, "beat", 10.0, "beat", 5.0, "beat"]
    assert hubspot.stats.sleeps == [35.0]


class LockLost(Exception):
    pass


def test_an_error_from_the_heartbeat_ends_the_request_mid_wait(fake_hubspot):
    # given a heartbeat that fails on its second call (the lock was taken over during the wait)
    calls: list[int] = []

    def heartbeat() -> None:
        calls.append(1)
        if len(calls) == 2:
            raise LockLost

    hubspot = HubSpotClient(heartbeat=heartbeat, sleep=lambda seconds: None)
    fake_hubspot.rate_limit("TEN_SECONDLY_ROLLING", retry_after=60)

    # when / then
    with pytest.raises(LockLost):
        hubspot.owners_page()
    assert len(fake_hubspot.requests) == 1


def test_an_error_from_the_heartbeat_stops_the_request_before_it_is_sent(fake_hubspot):
    def heartbeat() -> None:
        raise LockLost

    hubspot = HubSpotClient(heartbeat=heartbeat)
    with pytest.raises(LockLost):
        hubspot.owners_page()
    assert fake_hubspot.requests == []
