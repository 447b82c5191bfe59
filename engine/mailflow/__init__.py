"""A pure model of how Exchange Online routes mail through exoform's gateway: message classes
traced through the tenant's rules and connectors to verdicts (scanned, copied, bypassed, loop,
rejected, withheld, lost), findings with stable IDs, and a flow graph for views. See
docs/mail-flow.md; the facts and their sources are in shared/reference/mail-flow-semantics.md.
"""
from exoform.engine.mailflow.assumptions import ASSUMPTIONS, Assumption, AssumptionInfo
from exoform.engine.mailflow.expectations import Expectation, expectation
from exoform.engine.mailflow.findings import Finding, FindingCode, ObjectRef, Placement, Severity
from exoform.engine.mailflow.graph import Edge, EdgeKind, FlowGraph, Node, NodeKind, flow_graph
from exoform.engine.mailflow.install import get_object, install, tenant_from_document, without_integration
from exoform.engine.mailflow.message import Arrival, Message, Party, Source
from exoform.engine.mailflow.results import Branch, Hop, HopKind, Path, Start
from exoform.engine.mailflow.simulator import Simulation, Simulator
from exoform.engine.mailflow.tenant import (
    AcceptedDomain, Direction, DomainType, Gateway, GatewayMode, Intent, MailTenant, Recipient, Scope)
from exoform.engine.mailflow.verdicts import Cause, CauseCode, MessageClass, ObjectKind, Verdict

__all__ = [
    "ASSUMPTIONS", "AcceptedDomain", "Arrival", "Assumption", "AssumptionInfo", "Branch", "Cause", "CauseCode",
    "Direction", "DomainType", "Edge", "EdgeKind", "Expectation", "Finding", "FindingCode", "FlowGraph",
    "Gateway", "GatewayMode", "Hop", "HopKind", "Intent", "MailTenant", "Message", "MessageClass", "Node",
    "NodeKind", "ObjectKind", "ObjectRef", "Party", "Path", "Placement", "Recipient", "Scope", "Severity",
    "Simulation", "Simulator", "Source", "Start", "Verdict", "expectation", "flow_graph", "get_object",
    "install", "tenant_from_document", "without_integration",
]
