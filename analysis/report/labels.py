"""The one label registry: a human name (and unit) for every parameter path, factor and figure.

Tables and charts look names up here instead of printing code names (``economics.s1_gpus_covered``,
``step: exposed_ep``). Modules register their own labels with :func:`register` next to the code
that defines the names; :func:`label` falls back to the parameter spec's description, then to a
de-snake-cased name, so nothing reaches a reader as a raw identifier.
"""
from __future__ import annotations

_LABELS: dict[str, str] = {}


def register(labels: dict[str, str]) -> None:
    """Add ``{code name: human label}`` entries (later registrations win)."""
    _LABELS.update(labels)


def _spec_description(name: str) -> str | None:
    section, _, key = name.partition(".")
    if not key:
        return None
    try:
        from analysis.scenario import section_specs
        spec = section_specs().get(section, {}).get(key)
    except Exception:  # the registry must never break a report
        return None
    if spec is None or not spec.doc:
        return None
    text = spec.doc[:1].upper() + spec.doc[1:]
    return f"{text} ({spec.unit})" if spec.unit and spec.unit != "-" else text


def label(name: str) -> str:
    """Human label of a parameter path, factor or figure name."""
    if name in _LABELS:
        return _LABELS[name]
    described = _spec_description(name)
    if described:
        return described
    text = name.split(": ", 1)[-1].replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def labelled(names) -> list[str]:
    return [label(n) for n in names]
