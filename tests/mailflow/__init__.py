"""Tests of the mail-flow model (engine/mailflow): documented behaviours as JSON cases, and
hypothesis properties over random tenants."""
