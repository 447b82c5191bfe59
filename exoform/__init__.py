"""exoform: a Terraform-style plan/apply engine that wires an email security gateway into
Microsoft Exchange Online (connectors, mail flow rules, IP allowlist)."""

__version__ = "0.1.0"
