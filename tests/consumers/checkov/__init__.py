"""checkov loads external checks only from a package: without this file it loads none and reports 0 resources (a silent pass)."""
