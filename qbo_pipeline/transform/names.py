"""Deterministic disambiguation of names QBO requires to be unique (customers, items)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping

from qbo_pipeline.transform.rules import Report, clean_name, cut, id_order


def _with_suffix(base: str, suffix: str, max_len: int) -> str:
    suffix = f" ({clean_name(suffix)})"
    if len(suffix) >= max_len:
        return cut(base + suffix, max_len)
    return cut(base, max_len - len(suffix)).rstrip() + suffix


def disambiguate(bases: Mapping[str, str], hints: Mapping[str, str | None], claimed: Mapping[str, str],
                 max_len: int, report: Report, field_name: str) -> dict[str, str]:
    """Unique names for ``bases`` (source id -> wanted name), compared case-insensitively.

    In each group of equal names one record keeps the plain name: the one ``claimed`` says
    holds it in QBO already, else the smallest source id (numeric ids by value). The others get `` (hint)`` (the
    e-mail or SKU) or `` (source id)`` when the hint is missing or does not make the name
    unique. A name claimed by a record outside this batch is never reused.
    """
    groups: dict[str, list[str]] = defaultdict(list)
    for sid in sorted(bases, key=id_order):
        groups[bases[sid].casefold()].append(sid)
    result: dict[str, str] = {}
    taken: set[str] = set(groups)
    renamed: list[str] = []
    for key, members in groups.items():
        owner = claimed.get(key)
        if owner is None:
            owner = members[0]
        for sid in members:
            if sid == owner:
                result[sid] = bases[sid]
            else:
                renamed.append(sid)
    for sid in renamed:
        hint = hints.get(sid)
        candidates = ([_with_suffix(bases[sid], hint, max_len)] if hint else []) + [
            _with_suffix(bases[sid], sid, max_len)]

        def free(name: str, sid: str = sid) -> bool:
            return name.casefold() not in taken and claimed.get(name.casefold(), sid) == sid

        chosen = next((c for c in candidates if free(c)), None)
        counter = 2
        while chosen is None:
            candidate = _with_suffix(bases[sid], f"{sid} {counter}", max_len)
            chosen = candidate if free(candidate) else None
            counter += 1
        taken.add(chosen.casefold())
        result[sid] = chosen
        report.changed(sid, field_name, bases[sid], chosen, "disambiguated")
    return result
