"""Chaos for the HubSpot sync (SPEC S5, "loses nothing"): a seeded portal put into the loopback
fake with its own ground truth, faults, and a comparison of everything stored with that truth.

- `World` (world.py) builds the portal and writes down what each record must look like here, without our
  mapping code: owners (one deactivated), contacts with owner histories, deals, calls from a
  table of (HubSpot status, outcome GUID) -> (our status, outcome), tasks, records archived and
  contacts merged, calls with no contact at all. Its change rounds edit, reassign, archive and
  merge, and create contacts with calls and tasks after our contacts pass (children first).
- `Scenario` (scenario.py) runs the sync through the real client on one virtual clock shared with the fake
  (the client's sleeps move it; the fake's limiter is on), with one fault kind: a 5xx every Nth
  request, 429 bursts longer than the client's retries, answers slower than its timeout, the
  process killed at a random page (a BaseException from a response hook; from then on every
  query of the dead process raises too, so nothing of it runs after the kill, as with kill -9)
  and restarted one lock lease later, or all of them. Whenever a pass of every type ends done
  ("succeeded", or "incomplete" with records parked) and HubSpot did not change since it began,
  everything stored must equal the truth: that is what "succeeded" promises.
- `compare` (compare.py) reads what is stored and lists the differences: lost, duplicated, wrong, by category.
- `run_scenario` plays one seed and fault kind; `chaos_table` turns results into the
  seed x fault -> lost / duplicated / wrong table (for the test's summary, a bench or a report).
"""

from tests.hubspot_sync.chaos.compare import Difference, compare
from tests.hubspot_sync.chaos.scenario import (
    FAULT_KINDS,
    Killer,
    ProcessKilled,
    Scenario,
    ScenarioResult,
    VirtualClock,
    chaos_matrix,
    chaos_table,
    run_scenario,
)
from tests.hubspot_sync.chaos.world import CALL_KINDS, START, World

__all__ = [
    "CALL_KINDS",
    "FAULT_KINDS",
    "START",
    "Difference",
    "Killer",
    "ProcessKilled",
    "Scenario",
    "ScenarioResult",
    "VirtualClock",
    "World",
    "chaos_matrix",
    "chaos_table",
    "compare",
    "run_scenario",
]
