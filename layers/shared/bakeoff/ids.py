"""Evaluation IDs: sortable by time, unique, and valid as Step Functions execution names."""

import secrets
from datetime import UTC, datetime


def new_evaluation_id(now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    return f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(4)}"
