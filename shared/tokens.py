"""Issue a bearer token with the embedded default's local signing key.

python -m shared.tokens --org <organisation uuid> --role case_worker --sub amal

With ``--sign-in URL`` (the dashboard's address) it prints a one-time sign-in
link for the dashboard instead of a token (``shared.signin``).
"""

from __future__ import annotations

import argparse
import uuid
from datetime import timedelta

from shared.auth import LocalSigningKey, Role
from shared.files import private_umask
from shared.settings import ServiceSettings
from shared.signin import SIGN_IN_MINUTES, issue_sign_in_code, sign_in_link


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m shared.tokens")
    parser.add_argument("--sub", required=True, help="user id (subject)")
    parser.add_argument("--org", required=True, type=uuid.UUID, help="organisation id")
    parser.add_argument(
        "--role",
        action="append",
        required=True,
        choices=[r.value for r in Role],
        help="repeat for several roles",
    )
    parser.add_argument(
        "--site",
        action="append",
        type=uuid.UUID,
        help="limit to these sites (repeat); default: every site",
    )
    parser.add_argument(
        "--team",
        type=uuid.UUID,
        help="limit to the records of this team; default: every team",
    )
    parser.add_argument("--hours", type=float, default=12.0, help="lifetime")
    parser.add_argument(
        "--sign-in",
        metavar="URL",
        help="print a one-time dashboard sign-in link (valid "
        f"{SIGN_IN_MINUTES} minutes) for this dashboard address, not a token",
    )
    args = parser.parse_args()
    private_umask()
    settings = ServiceSettings()
    if settings.auth_jwks_url:
        parser.error("tokens come from the OIDC provider when AUTH_JWKS_URL is set")
    key = LocalSigningKey.load_or_create(settings.data_dir)
    if args.sign_in:
        code = issue_sign_in_code(
            key,
            settings,
            subject=args.sub,
            organisation_id=args.org,
            roles=[Role(r) for r in args.role],
            site_ids=args.site,
            team_id=args.team,
            hours=args.hours,
        )
        print(sign_in_link(args.sign_in, code))  # noqa: T201
        return
    token = key.issue(
        subject=args.sub,
        organisation_id=args.org,
        roles=[Role(r) for r in args.role],
        site_ids=args.site,
        team_id=args.team,
        issuer=settings.auth_issuer,
        audience=settings.auth_audience,
        ttl=timedelta(hours=args.hours),
    )
    print(token)  # noqa: T201


if __name__ == "__main__":
    main()
