"""The sync under chaos (SPEC S5, "loses nothing"): for several seeds and each fault kind, a
portal with archived and merged records, a change round with children created after their
parents' pass, syncs with faults, then everything stored compared with the fake's truth."""

import logging

import pytest

from tests.hubspot_sync.chaos import FAULT_KINDS, chaos_table, run_scenario

pytestmark = pytest.mark.django_db

SEEDS = (1, 2, 3, 4)


@pytest.fixture(scope="module")
def chaos_results(request):
    """Every scenario's result; the seed x fault table is printed when the module is done."""
    results = []
    yield results
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or capture is None or not results:
        return
    with capture.global_and_fixture_disabled():
        reporter.write("\n")
        reporter.write_sep("-", "HubSpot sync chaos: differences from HubSpot's truth")
        reporter.write_line(chaos_table(results))


@pytest.mark.parametrize("fault", FAULT_KINDS)
@pytest.mark.parametrize("seed", SEEDS)
def test_sync_stores_what_hubspot_has_when_faults_strike(seed, fault, chaos_results, caplog):
    # given a portal, faults of this kind, a change round, and runs until the sync settles
    # (the retries and failures the faults cause are expected: the result says what matters)
    caplog.set_level(logging.ERROR, logger="hubspot_sync")

    # when
    result = run_scenario(seed=seed, fault=fault)
    chaos_results.append(result)

    # then nothing is lost, duplicated or wrong; no limit was exceeded; no run was left behind
    assert not result.differences, result.report()
