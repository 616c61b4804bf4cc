"""The demo and benchmark world (SPEC S12): a realistic CRM generated from a seed.

Owners with capacities and targets; contacts across lifecycle stages with UAE numbers typed
every way; call histories with per-contact rhythms (some broken this week); deals, tasks,
health history, owner changes and interventions. Contact facts are computed while generating,
by the rules of `calls.services.contact_facts_rebuild`, so a rebuild changes nothing.

`manage.py seed_demo` is the interface; the benchmarks call `world_build` with `REFERENCE`.
"""

from leads.demo.logins import DEMO_LOGINS, DEMO_PASSWORD, DemoLogins, demo_logins_ensure
from leads.demo.storage import crm_data_exists, crm_data_flush
from leads.demo.world import REFERENCE, WorldConfig, WorldStats, world_build

__all__ = [
    "DEMO_LOGINS",
    "DEMO_PASSWORD",
    "REFERENCE",
    "DemoLogins",
    "WorldConfig",
    "WorldStats",
    "crm_data_exists",
    "crm_data_flush",
    "demo_logins_ensure",
    "world_build",
]
