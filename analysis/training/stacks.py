"""Software-stack profiles (data/software_stacks.yaml): which mechanisms a training stack runs.

A run names a profile (``software: {stack: megatron-core-2025}``) and may override any flag
(``software: {stack: ..., cuda_graphs: true}``); the search uses the file's ``search_default``.
The flags are step-model inputs (TP-communication overlap, DP reduce/gather overlap, CUDA
graphs, fused kernels, fused attention, scheduled EP all-to-all overlap); the profile's
``efficiency`` is a throughput multiplier, overridden by a calibrated
``stack_efficiency_by_stack`` entry of data/calibration.yaml where one exists.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from analysis import catalog
from analysis.errors import InputError, shown
from analysis.paths import DATA_DIR

STACKS_PATH = DATA_DIR / "software_stacks.yaml"
FLAGS = ("flash_attention", "overlap_grad_reduce", "overlap_param_gather", "overlap_tp_comm", "overlap_ep_comm",
         "cuda_graphs", "fused_kernels", "grad_reduce_bf16")
DEFAULT_STACK = "megatron-lm"            # run files without software.stack (the reference of data/published_runs.csv)


@lru_cache(maxsize=4)
def _load(path: str) -> dict:
    doc = catalog.read_yaml(Path(path))
    stacks = doc.get("stacks") or {}
    for name, item in stacks.items():
        missing = [f for f in FLAGS + ("efficiency", "source", "label") if f not in item]
        if missing:
            raise InputError(f"{Path(path).name} stacks.{name}.{missing[0]}: missing; every profile states "
                             f"{', '.join(FLAGS)}, efficiency, label and source")
        for flag in FLAGS:
            if not isinstance(item[flag], bool):
                raise InputError(f"{Path(path).name} stacks.{name}.{flag}: {shown(item[flag])} is not true/false")
    if doc.get("search_default") not in stacks:
        raise InputError(f"{Path(path).name} search_default: {shown(doc.get('search_default'))} is not a profile; "
                         f"known profiles are {', '.join(stacks)}")
    return {"stacks": stacks, "search_default": doc["search_default"]}


def stacks(path: Path | str | None = None) -> dict:
    """Every profile by name (a copy)."""
    return {k: dict(v) for k, v in _load(str(path or STACKS_PATH))["stacks"].items()}


def search_default() -> str:
    return _load(str(STACKS_PATH))["search_default"]


def profile(name: str) -> dict:
    """The profile ``name``; an unknown name lists the known ones."""
    known = stacks()
    if name not in known:
        raise InputError(f"software.stack: unknown stack {shown(name)}; known stacks are {', '.join(known)}")
    return known[name]


def flags(name: str, overrides: dict | None = None) -> dict:
    """The step-model flags of profile ``name`` with ``overrides`` applied."""
    out = {flag: bool(profile(name)[flag]) for flag in FLAGS}
    out.update({k: bool(v) for k, v in (overrides or {}).items() if k in FLAGS})
    return out
