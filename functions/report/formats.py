"""How the report shows numbers, money, durations and times: the templates' filters, also used by the
view, the health rows and the charts. Pure functions of one value."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True)
class Unpriced:
    """A cost with an unknown part (a model without a price, run with allowUnpriced): shown as
    "unpriced", or "$x + unpriced" when some of it is known; never as $0.00."""

    known: float = 0.0


def usd(value: float | Unpriced | None) -> str:
    """Dollars with sensible precision: cents from $1 up, three significant digits below."""
    if isinstance(value, Unpriced):
        return f"{usd(value.known)} + unpriced" if value.known else "unpriced"
    if value is None:
        return "–"
    if value == 0:
        return "$0.00"
    if abs(value) >= 1:
        return f"${value:,.2f}"
    decimals = max(2, 2 - math.floor(math.log10(abs(value))))
    text = f"{value:.{decimals}f}".rstrip("0")
    whole, _, frac = text.partition(".")
    return f"${whole}.{frac.ljust(2, '0')}"


def num(value: float | int | None, digits: int = 0) -> str:
    """Thousands separators; a dash for a value that does not exist (never a 0)."""
    if value is None:
        return "–"
    return f"{value:,.{digits}f}"


def seconds(value: float | None) -> str:
    """A duration given in seconds, as people read it."""
    if value is None:
        return "–"
    if value < 1:
        return f"{value:.2f} s"
    if value < 10:
        return f"{value:.1f} s"
    if value < 60:
        return f"{value:.0f} s"
    minutes, rest = divmod(round(value), 60)
    return f"{minutes} min {rest:02d} s"


def millis(value: float | None) -> str:
    return seconds(None if value is None else value / 1000)


def pct(value: float | None, digits: int = 0) -> str:
    return "–" if value is None else f"{value * 100:.{digits}f}%"


def signed_pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:+.0f}%".replace("-", "−")


def when(value: str | None) -> str:
    """An ISO timestamp as a UTC date and time; anything unparsable is shown as given."""
    if not value:
        return "–"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%-d %b %Y, %H:%M UTC")


def plain(value: Any) -> str:
    """Any JSON value as a short line of text, for fields this renderer knows only by name."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return num(value)
    if isinstance(value, float):
        return f"{value:,.3g}" if abs(value) < 1000 else num(value)
    if isinstance(value, Mapping):
        return "; ".join(f"{k}: {plain(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(plain(v) for v in value)
    return str(value)


#: The Jinja filters of the report templates.
FILTERS = {
    "usd": usd,
    "num": num,
    "seconds": seconds,
    "millis": millis,
    "pct": pct,
    "signed_pct": signed_pct,
    "when": when,
    "plain": plain,
}
