"""`exoform emulator serve`: run the Exchange Online emulator on 127.0.0.1 until Ctrl-C and
print what a config needs to reach it (endpoint, authority, CA file, a ready `tenant` block);
with `--tenants-dir`, one emulated tenant per file and a fleet manifest's `defaults.tenant`."""
from __future__ import annotations

import argparse
import errno
import json
import os
import sys
import uuid
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from exoform.engine.errors import ExoformError
from exoform.providers.emulator.conditions import Conditions
from exoform.engine.cmdlet_reference import CANONICAL_CMDLETS

if TYPE_CHECKING:  # the server (and its crypto) loads only when `emulator serve` runs
    from exoform.providers.emulator.fleet import FleetEmulator
    from exoform.providers.emulator.server import Emulator

SECRET_ENV = "EXOFORM_EMULATOR_SECRET"


def register(subparsers: Any) -> None:
    """Add `emulator serve` to the CLI's argparse subparsers."""
    emulator = subparsers.add_parser("emulator", help="a local emulator of Exchange Online")
    commands = emulator.add_subparsers(dest="emulator_command", required=True)
    parser = commands.add_parser(
        "serve", help="serve an emulated tenant over HTTPS until Ctrl-C",
        description="Serve an emulated Exchange Online tenant (Admin API and sign-in) on "
                    "127.0.0.1 with a throw-away test CA. Conditions can also come from "
                    "EXOFORM_EMULATOR_* variables; faults from EXOFORM_FAULTS.")
    parser.add_argument("--tenant-file", help="tenant file in the sandbox format "
                                              "(default: an in-memory tenant)")
    parser.add_argument("--tenants-dir", metavar="DIR",
                        help="serve many tenants: one NAME.tenant.json per tenant in DIR (tokens per "
                             "tenant authority; NAME.emulator.json beside it sets that tenant's "
                             "consent, faults, latency_ms, directory_roles, denied_cmdlets)")
    parser.add_argument("--port", type=int, default=8443, help="port (default 8443; 0 = any)")
    parser.add_argument("--latency-ms", type=float, help="delay added to every Admin API request")
    parser.add_argument("--replication-lag", type=float,
                        help="seconds a new object stays invisible to Get- (a removed one visible)")
    parser.add_argument("--redirect", action="store_true",
                        help="answer the main host with 302 to a second 'regional' host")
    parser.add_argument("--page-size", type=int, help="largest page of Get- output")
    parser.add_argument("--deny-cmdlet", action="append", metavar="CMDLET",
                        help="answer this cmdlet 403 (outside the app's role), as Exchange does; "
                             "repeatable")
    parser.add_argument("--workdir", help="where the CA, keys, client certificates and secret are kept "
                                          "across restarts (default: a temporary folder, removed on exit)")
    parser.set_defaults(func=run_serve)


def conditions_from(args: argparse.Namespace) -> Conditions:
    """The conditions asked for; every bad value is one clear error naming its flag."""
    try:
        conditions = Conditions.from_env()
    except ValueError as error:
        raise ExoformError(f"an EXOFORM_EMULATOR_* variable is not valid: {error}") from None
    for flag, value in (("--latency-ms", args.latency_ms), ("--replication-lag", args.replication_lag)):
        if value is not None and not 0 <= value <= 600_000:
            raise ExoformError(f"{flag} {value:g} is not valid: give a number from 0 up")
    if args.page_size is not None and args.page_size < 1:
        raise ExoformError(f"--page-size {args.page_size} is not valid: give a whole number from 1 up")
    for cmdlet in args.deny_cmdlet or ():
        if cmdlet.lower() not in CANONICAL_CMDLETS:
            raise ExoformError(f"--deny-cmdlet {cmdlet!r}: the emulator serves no such cmdlet (it serves: "
                               f"{', '.join(sorted(CANONICAL_CMDLETS.values()))})")
    changes: dict[str, Any] = {}
    if args.latency_ms is not None:
        changes["latency_ms"] = args.latency_ms
    if args.replication_lag is not None:
        changes["replication_lag"] = args.replication_lag
    if args.redirect:
        changes["redirect"] = True
    if args.page_size is not None:
        changes["max_page_size"] = args.page_size
    if args.deny_cmdlet:
        changes["denied_cmdlets"] = tuple(CANONICAL_CMDLETS[c.lower()] for c in args.deny_cmdlet)
    return replace(conditions, **changes)


def run_serve(args: argparse.Namespace) -> int:
    from exoform.providers.emulator.server import TENANT_DOMAIN, serve
    from exoform.providers.sandbox import TenantFile

    if not 0 <= args.port <= 65535:
        raise ExoformError(f"--port {args.port} is not a TCP port: give 1-65535 (or 0 for any free port)")
    conditions = conditions_from(args)
    if args.tenant_file and Path(args.tenant_file).exists():
        TenantFile(args.tenant_file).document()  # a bad file is refused now, not at the first call
    try:
        if args.tenants_dir:
            return _serve_fleet(args, conditions, str(uuid.uuid5(uuid.NAMESPACE_DNS, "client." + TENANT_DOMAIN)))
        serve(args.tenant_file, args.port, conditions, workdir=args.workdir,
              ready=lambda emulator: announce(emulator, sys.stdout))
    except OSError as error:
        if error.errno in (errno.EADDRINUSE, errno.EACCES):
            raise ExoformError(f"cannot listen on 127.0.0.1:{args.port} ({error.strerror}): another "
                               "program (an emulator still running?) uses it; choose another --port, "
                               "or --port 0 for any free one") from None
        raise ExoformError(f"the emulator cannot start: {error.strerror or error}") from None
    return 0


def _serve_fleet(args: argparse.Namespace, conditions: Conditions, client_id: str) -> int:
    from exoform.providers.emulator.fleet import serve_fleet

    if args.tenant_file or args.redirect:
        raise ExoformError("--tenants-dir serves a folder of tenants; it cannot be combined with "
                           "--tenant-file or --redirect")
    serve_fleet(args.tenants_dir, args.port, conditions, workdir=args.workdir,
                client_id=client_id, client_secret=os.environ.get(SECRET_ENV) or None,
                ready=lambda emulator: announce_fleet(emulator, sys.stdout))
    return 0


def announce_fleet(emulator: FleetEmulator, out: TextIO) -> None:
    """The manifest's `defaults.tenant` and each tenant's `tenant` block."""
    print(f"Exchange Online emulator serving {len(emulator.names)} tenant(s) on {emulator.endpoint}",
          file=out)
    print(f"  CA bundle:     {emulator.ca_path}", file=out)
    print(f"  client id:     {emulator.client_id} (one multi-tenant app registration)", file=out)
    print(f"\nexport {SECRET_ENV}='{emulator.client_secret}'", file=out)
    print('\nFleet manifest "defaults": {"tenant": ...}:', file=out)
    print(json.dumps(emulator.defaults("secret"), indent=2), file=out)
    print('\nFleet manifest "tenants":', file=out)
    members = [{"name": name, "tenant": {"tenant_id": emulator.tenant_id(name)}} for name in emulator.names]
    print(json.dumps(members, indent=2), file=out)
    print("\nPress Ctrl-C to stop.", file=out, flush=True)


def announce(emulator: Emulator, out: TextIO) -> None:
    """What to paste into a config and a shell to use this emulator."""
    assert emulator.certificate is not None
    tenant = emulator.tenant_options("secret")
    print(f"Exchange Online emulator listening on {emulator.endpoint}", file=out)
    print(f"  authority:     {emulator.authority}", file=out)
    print(f"  CA bundle:     {emulator.ca_path}", file=out)
    print(f"  client id:     {emulator.client_id}", file=out)
    print(f"  certificate:   {emulator.certificate.pem_path} (thumbprint "
          f"{emulator.certificate.thumbprint})", file=out)
    print(f"  PFX:           {emulator.certificate.pfx_path} (passphrase "
          f"{emulator.certificate.pfx_password})", file=out)
    if emulator.regional_endpoint:
        print(f"  regional host: {emulator.regional_endpoint}", file=out)
    print(f"\nexport {SECRET_ENV}='{emulator.client_secret}'", file=out)
    print('\nConfig "tenant" block:', file=out)
    print(json.dumps(tenant, indent=2), file=out)
    print("\nPress Ctrl-C to stop.", file=out, flush=True)
