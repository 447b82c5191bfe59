"""exoform: a Terraform-style plan/apply engine that wires an email security gateway into
Microsoft Exchange Online (connectors, mail flow rules, IP allowlist)."""
from importlib.metadata import PackageNotFoundError, version

try:  # the one place the version comes from: the installed package's metadata (pyproject.toml)
    __version__ = version("exoform")
except PackageNotFoundError:  # a bare checkout that was never installed
    __version__ = "0.0.0+unknown"
