"""Issue a bearer token with the embedded default's local signing key.

python -m shared.tokens --org <organisation uuid> --role case_worker --sub amal
"""

from __future__ import annotations

import argparse
import uuid
from datetime import timedelta

from shared.auth import LocalSigningKey, Role
from shared.files import private_umask
from shared.settings import ServiceSettings


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
    args = parser.parse_args()
    private_umask()
    settings = ServiceSettings()
    if settings.auth_jwks_url:
        parser.error("tokens come from the OIDC provider when AUTH_JWKS_URL is set")
    key = LocalSigningKey.load_or_create(settings.data_dir)
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
