"""``python -m analysis goodput``: effective training time of one synchronous job.

``--gpus N`` is the job size; the other options override the scenario's ``goodput`` values
(defaults: data/parameters/goodput.yaml, or ``--scenario``). Prints the effective training time,
interruptions per day, mean time to interruption, the checkpoint interval used and the named
factors whose product is the effective training time (``--json``: one object).
"""
from __future__ import annotations

import argparse
import json

import numpy as np

from analysis.errors import InputError, shown


def _positive(name: str, integer: bool = False, maximum: float = 1e8):
    def parse(text: str):
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        ok = np.isfinite(value) and 0 < value <= maximum and (not integer or value == int(value))
        if not ok:
            kind = "a whole number" if integer else "a number"
            raise argparse.ArgumentTypeError(f"{shown(text)} is not allowed; expected {kind} > 0 and <= {maximum:g}")
        return int(value) if integer else value
    parse.__name__ = name
    return parse


def _non_negative(maximum: float):
    def parse(text: str):
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        if not (np.isfinite(value) and 0 <= value <= maximum):
            raise argparse.ArgumentTypeError(f"{shown(text)} is not allowed; expected a number >= 0 and <= {maximum:g}")
        return value
    return parse


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register the ``goodput`` subcommand on ``subparsers``."""
    from analysis.goodput.failures import load_failure_rates

    gpus = ", ".join(load_failure_rates().index)
    p = subparsers.add_parser("goodput", help="effective training time of one synchronous job (failures, recovery, checkpoints)",
                              description=__doc__.splitlines()[0])
    p.add_argument("--gpus", required=True, type=_positive("GPUs", integer=True), help="GPUs in the synchronous job")
    p.add_argument("--gpu", default="H100", help=f"GPU type (one of {gpus}; default H100)")
    p.add_argument("--checkpoint-interval-min", type=_positive("minutes", maximum=1e5), default=None,
                   help="compute minutes between checkpoints (default: the Young/Daly optimum)")
    p.add_argument("--restart-min", type=_non_negative(1e4), default=None,
                   help="total stall per unplanned interruption in minutes (default: detection + swap + "
                        "re-initialization + restore + warm-up)")
    p.add_argument("--async-checkpoint", action="store_true", help="asynchronous two-phase in-memory checkpoints")
    p.add_argument("--months-in-service", type=_non_negative(120), default=None,
                   help="age of the fleet in months (early-life failures; default from the parameters)")
    p.add_argument("--model", default=None, help="model in data/models.yaml for the checkpoint size (default llama3-405b)")
    p.add_argument("--scenario", default=None, help="take the goodput values of this scenario (name or YAML file)")
    p.add_argument("--json", action="store_true", help="print the result as JSON on stdout instead of text")
    p.set_defaults(func=run)
    return p


def evaluate(args):
    """The :class:`GoodputResult` for parsed CLI arguments (InputError on bad values)."""
    from analysis.goodput.checkpoint import model_parameters
    from analysis.goodput.failures import load_failure_rates
    from analysis.goodput.model import from_scenario_values
    from analysis.scenario import defaults, load_scenario

    known = load_failure_rates().index
    if args.gpu not in known:
        raise InputError(f"--gpu: {shown(args.gpu)} is not allowed; use one of {', '.join(known)}")
    if args.scenario:
        values = dict(load_scenario(args.scenario).values("goodput"))
    else:
        values = {k: p.value for k, p in defaults()["goodput"].items()}
    if args.months_in_service is not None:
        values["months_in_service"] = args.months_in_service
    params = None
    if args.model:
        from analysis.catalog import load_models
        if args.model not in load_models():
            raise InputError(f"--model: {shown(args.model)} is not allowed; use one of {', '.join(load_models())}")
        params = model_parameters(args.model)
    return from_scenario_values(values, args.gpus, job_from_cluster=False, gpu_mix=args.gpu, model_parameters=params,
                                checkpoint_interval_s=None if args.checkpoint_interval_min is None
                                else 60 * args.checkpoint_interval_min,
                                restart_s=None if args.restart_min is None else 60 * args.restart_min,
                                checkpoint_mode="async" if args.async_checkpoint else None)


def to_json(result, gpu: str) -> dict:
    d = result.to_dict()
    factors = result.runtime_factors()
    return {"gpus": d["job_gpus"], "gpu": gpu, "effective_training_time": d["effective_training_time"],
            "interruptions_per_day": d["interruptions_per_day"] + d["planned_interruptions_per_day"],
            "unplanned_interruptions_per_day": d["interruptions_per_day"],
            "planned_interruptions_per_day": d["planned_interruptions_per_day"],
            "mean_time_to_interruption_h": d["mean_time_to_interruption_h"], "job_mtbf_unplanned_h": d["job_mtbf_h"],
            "checkpoint_interval_min": d["checkpoint_interval_min"], "checkpoint_interval_source": d["checkpoint_interval_source"],
            "checkpoint_mode": d["checkpoint_mode"], "checkpoint_write_s": d["checkpoint_write_s"],
            "checkpoint_bytes": d["checkpoint_bytes"], "stall_min": d["restart_s"] / 60,
            "stall_s": d["stall_s"], "p_hot_spare": d["p_hot_spare"], "rate_per_gpu_hour": d["rate_per_gpu_hour"],
            "factors": {k: float(v) for k, v in factors.items()},
            "badput_buckets": {k: d["badput_buckets"][k] for k in factors}}


def run(args) -> int:
    from analysis.goodput.badput import FACTOR_LABELS
    from analysis.report import format as fmt

    result = evaluate(args)
    d = to_json(result, args.gpu)
    if args.json:
        print(json.dumps(d, indent=2))
        return 0
    print(f"Effective training time of one synchronous {d['gpus']:,.0f}-GPU {args.gpu} job: {fmt.pct(d['effective_training_time'])}")
    print(f"  interruptions per day: {fmt.number(d['interruptions_per_day'])} "
          f"({fmt.number(d['unplanned_interruptions_per_day'])} unplanned, {fmt.number(d['planned_interruptions_per_day'])} planned)")
    print(f"  mean time to interruption: {fmt.number(d['mean_time_to_interruption_h'])} h "
          f"(unplanned only: {fmt.number(d['job_mtbf_unplanned_h'])} h)")
    print(f"  checkpoint interval: {fmt.number(d['checkpoint_interval_min'])} min ({d['checkpoint_interval_source']}; "
          f"{d['checkpoint_mode']} checkpoints, {fmt.number(d['checkpoint_write_s'])} s blocking each)")
    print(f"  stall per unplanned interruption: {fmt.number(d['stall_min'])} min")
    print("  factors (their product is the effective training time):")
    for k, v in d["factors"].items():
        print(f"    {FACTOR_LABELS.get(k, k):50s} {fmt.pct(v, 2):>8s}")
    return 0
