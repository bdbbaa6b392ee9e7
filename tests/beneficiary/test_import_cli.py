"""The import command, killed with SIGKILL in the middle of a file and
resumed: every committed batch is there once, the rest arrives once."""

from __future__ import annotations

import asyncio
import csv
import os
import signal
import sys
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.beneficiary.settings import BeneficiarySettings
from tests.beneficiary.api import count_rows
from tests.beneficiary.test_imports import HEADER, submission
from tests.callers import Org

MAPPING = Path(__file__).parent.parent / "data" / "kobo_registration_mapping.json"
ROWS = 1200


def command_env(settings: BeneficiarySettings) -> dict[str, str]:
    return {
        **os.environ,
        "BENEFICIARY_DATABASE_URL": str(settings.database_url),
        "BENEFICIARY_DATA_DIR": str(settings.data_dir),
        "BENEFICIARY_IMPORT_BATCH_ROWS": "50",
        "BENEFICIARY_REDIS_URL": "",
        "REDIS_URL": "",
        "PYTHONPATH": str(Path(__file__).parent.parent.parent),
    }


async def progress(engine: AsyncEngine) -> tuple[str, int] | None:
    async with engine.connect() as conn:
        row = (await conn.execute(text("SELECT id, next_row FROM import_job"))).first()
    return (str(row[0]), int(row[1])) if row else None


@pytest.mark.processes
async def test_a_killed_import_resumes_to_the_same_result(
    beneficiary_settings: BeneficiarySettings,
    orgs: dict[str, Org],
    beneficiary_engine: AsyncEngine,
    tmp_path: Path,
) -> None:
    export = tmp_path / "export.csv"
    with export.open("w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=HEADER)
        writer.writeheader()
        writer.writerows(submission(n) for n in range(1, ROWS + 1))
    command = [sys.executable, "-m", "services.beneficiary", "import"]
    env = command_env(beneficiary_settings)
    first = await asyncio.create_subprocess_exec(
        *command,
        str(export),
        "--organisation",
        orgs["a"].id,
        "--mapping",
        str(MAPPING),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    seen = None
    for _ in range(1200):
        seen = await progress(beneficiary_engine)
        if seen is not None and seen[1] >= 200:
            break
        await asyncio.sleep(0.05)
    assert seen is not None
    assert first.returncode is None, "finished before it could be killed"
    first.send_signal(signal.SIGKILL)
    await first.wait()

    import_id, committed = await progress(beneficiary_engine) or ("", 0)
    assert 200 <= committed < ROWS
    assert await count_rows(beneficiary_engine, "beneficiary") == committed
    assert await count_rows(beneficiary_engine, "service_record") == committed

    resumed = await asyncio.create_subprocess_exec(
        *command,
        "--resume",
        import_id,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(resumed.communicate(), timeout=300)
    assert resumed.returncode == 0, err.decode()[-2000:]
    assert b"rows/s" in err
    assert b'"status": "done"' in out
    assert await count_rows(beneficiary_engine, "beneficiary") == ROWS
    assert await count_rows(beneficiary_engine, "service_record") == ROWS
    assert await count_rows(beneficiary_engine, "consent_entry") == 2 * ROWS
    async with beneficiary_engine.connect() as conn:
        outcomes = (
            await conn.execute(text("SELECT outcomes FROM import_job"))
        ).scalar_one()
    assert outcomes == {
        "beneficiary": {"created": ROWS},
        "service_record": {"created": ROWS},
    }
