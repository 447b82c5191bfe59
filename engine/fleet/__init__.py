"""Many tenants in one run (issue 12): a fleet manifest (defaults, tenants, waves, overrides,
values from the environment) validated per tenant, selections and shards, a bounded pool of
tenants worked on at once through the single-tenant operations, and one report for the fleet.
"""
from exoform.engine.fleet.links import FleetLinks, TenantLink
from exoform.engine.fleet.manifest import FleetError, Manifest, Member, describe_waves, load_manifest
from exoform.engine.fleet.pool import FleetContext, Progress, Quiet
from exoform.engine.fleet.report import FleetReport, Finding, Result, TenantRow, Traffic
from exoform.engine.fleet.run import (
    Rollout,
    fleet_apply,
    fleet_doctor,
    fleet_drift,
    fleet_plan,
    fleet_status,
    saved_plans,
)
from exoform.engine.fleet.select import Selection, Shard, in_waves, select
from exoform.engine.fleet.state import tenant_state_path, tenant_store
from exoform.engine.fleet.tenant import Query

__all__ = [
    "Finding", "FleetContext", "FleetError", "FleetLinks", "FleetReport", "Manifest", "Member", "Progress",
    "Query", "Quiet", "Result", "Rollout", "Selection", "Shard", "TenantLink", "TenantRow", "Traffic",
    "describe_waves", "fleet_apply", "fleet_doctor", "fleet_drift", "fleet_plan", "fleet_status",
    "in_waves", "load_manifest", "saved_plans", "select", "tenant_state_path", "tenant_store",
]
