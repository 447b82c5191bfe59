"""The `exoform doctor` command: a pre-flight check of the config's tenant (sign-in, the app's
permission and role, one harmless read per cmdlet family, recipients, accepted domains, MX)
that changes nothing. Exit 0 when everything exoform needs is there, 1 otherwise."""
from __future__ import annotations

import argparse
import json

from exoform.commands import EXIT_ERROR, EXIT_OK, open_session
from exoform.engine.operations.doctor import doctor
from exoform.views.doctor import doctor_json, render_doctor

DESCRIPTION = ("Check, without changing anything, that exoform can manage the config's tenant: "
               "sign-in, the app's Exchange.ManageAsApp permission and Exchange Administrator role, "
               "a harmless read of each cmdlet family exoform calls, the scope's recipients, the "
               "accepted domains and where each domain's MX record points (tenant.dns_over_https). "
               "Each missing piece is printed with its fix.")


def add_args(p: argparse.ArgumentParser) -> None:
    """doctor takes only the common options (-c, --json, --no-token-cache)."""


def cmd_doctor(args: argparse.Namespace) -> int:
    report = doctor(open_session(args))
    if args.json:
        print(json.dumps(doctor_json(report), indent=2, sort_keys=True))
    else:
        print(render_doctor(report))
    return EXIT_OK if report.ok else EXIT_ERROR
