"""Style mixes in the demos' bundles: ladders of nets between two bundled styles.

An exported file is one fixed net, so a phone cannot mix two styles in the meta network's hidden space (that
needs the 35 MB meta network). ``mobilestyle bundle --mix-steps N`` therefore exports, for every pair of the
style images it bundles, the N - 1 mixes in between (hidden-space mixes, ``mobilestyle.controls.mixing``), and
the demos' mix slider steps along that ladder. In manifest.json a mix is an ordinary style entry with one more
field::

    "mix": {"styles": ["starry_night", "candy"], "weight": 0.25}    # candy's share; starry_night has 0.75

The demos list only styles without "mix" in their style picker; the partners of a style are the styles it has
at least one mix with. This module is the reference for the demos' ladder logic (app.js, the Java core's
``Mixes``): scripts/demo_fixtures.py writes its answers as golden fixtures.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations
from typing import Any

MIX_FIELD = "mix"


def mix_weights(steps: int) -> list[float]:
    """The second style's shares strictly between 0 and 1 for ``steps`` equal steps (4 -> 0.25, 0.5, 0.75)."""
    if steps < 2:
        return []
    return [k / steps for k in range(1, steps)]


def mix_name(first: str, second: str, weight: float) -> str:
    """The bundle name of a mix: both names and the second one's share in percent (``starry_night-x-candy-25``)."""
    return f"{first}-x-{second}-{round(weight * 100):02d}"


def mix_record(first: str, second: str, weight: float) -> dict[str, Any]:
    return {"styles": [first, second], "weight": round(weight, 6)}


def mix_pairs(names: Sequence[str]) -> list[tuple[str, str]]:
    """Every unordered pair of the given styles, in the order given."""
    return list(combinations(names, 2))


def pickable(styles: Sequence[dict[str, Any]]) -> list[str]:
    """The names a style picker shows: the styles that are not mixes."""
    return [s["name"] for s in styles if MIX_FIELD not in s]


def partners(styles: Sequence[dict[str, Any]], primary: str) -> list[str]:
    """The styles ``primary`` has at least one bundled mix with, in manifest order."""
    names = set(pickable(styles))
    found: list[str] = []
    for style in styles:
        pair = style.get(MIX_FIELD, {}).get("styles", [])
        if primary in pair and len(pair) == 2:
            other = pair[1] if pair[0] == primary else pair[0]
            if other != primary and other in names and other not in found:
                found.append(other)
    order = pickable(styles)
    return sorted(found, key=order.index)


def ladder(styles: Sequence[dict[str, Any]], primary: str, partner: str) -> list[tuple[float, str]]:
    """(partner's share, style name) from 0 (``primary`` alone) to 1 (``partner`` alone), sorted by share."""
    points = [(0.0, primary), (1.0, partner)]
    for style in styles:
        record = style.get(MIX_FIELD)
        if not record or sorted(record["styles"]) != sorted([primary, partner]):
            continue
        weight = float(record["weight"])
        share = weight if record["styles"][1] == partner else 1.0 - weight
        points.append((round(share, 6), style["name"]))
    return sorted(points)
