"""Config loading: read a JSON config, validate it against `schemas/config.schema.json`, run the
semantic checks a schema cannot express, and resolve it into an `IntegrationSpec`. Every problem
is reported at once as an `InputError` whose issues name the JSON path and the fix.
"""
from __future__ import annotations

from exoform.engine.config.build import config_schema, format_path, load_config, missing_files, parse_config
from exoform.engine.config.profiles import DEFAULT_PROFILE, NAME_SUFFIXES, PROFILES, GatewayProfile
from exoform.engine.exchange import DEVICE_CODE_CLIENT_ID, MAX_NAME_LENGTH
from exoform.engine.ipv4 import normalize_ranges

__all__ = [
    "DEFAULT_PROFILE",
    "DEVICE_CODE_CLIENT_ID",
    "GatewayProfile",
    "MAX_NAME_LENGTH",
    "NAME_SUFFIXES",
    "PROFILES",
    "config_schema",
    "format_path",
    "load_config",
    "missing_files",
    "normalize_ranges",
    "parse_config",
]
