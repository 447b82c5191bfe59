# Review policy for exoform plans (`exoform plan --json`, Terraform's plan representation):
# block a plan that deletes a connector or disables a rule that routes mail to the gateway.
package exoform.review

import rego.v1

connectors := {"inbound_connector", "outbound_connector"}

deny contains msg if {
	some rc in input.resource_changes
	rc.mode == "managed"
	rc.type in connectors
	"delete" in rc.change.actions
	msg := sprintf("%s (%s) would be deleted", [rc.address, rc.change.before.Name])
}

deny contains msg if {
	some rc in input.resource_changes
	rc.type == "transport_rule"
	rc.change.before.State == "Enabled"
	rc.change.after.State == "Disabled"
	routes(rc.change.before)
	msg := sprintf("%s would stop routing mail through the gateway (disabled)", [rc.address])
}

routes(rule) if rule.RouteMessageOutboundConnector != null

routes(rule) if rule.BlindCopyTo != null

# What a Rego policy on Terraform plans reads: every managed resource, by provider and type.
managed contains rc.address if {
	some rc in input.resource_changes
	rc.mode == "managed"
	rc.provider_name == "exoform.dev/exoform/exchange-online"
}

planned contains r.address if {
	some r in input.planned_values.root_module.resources
}
