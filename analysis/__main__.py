"""Command-line interface: ``python -m analysis {reports,evaluate,mfu,inference,sweep,goodput,bench}``.

Bad input prints one line ``error: ...`` on stderr and exits 2 (never a traceback).
"""
from __future__ import annotations

import argparse
import json
import math
import signal
import sys

from analysis.errors import InputError, shown


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse's own errors also exit 2, on one line
        self.exit(2, f"error: {message} (see --help)\n")


#: Largest --draws accepted: 1e6 draws of ~100 parameters already take ~1 GB.
MAX_DRAWS = 1_000_000
#: --seed range (numpy accepts any non-negative integer; 2**32 - 1 is the classic ceiling).
MAX_SEED = 2**32 - 1
JSON_HELP = "print the result as JSON on stdout instead of text"


def _integer(text: str) -> int:
    """An integer argument; integral numbers written with an exponent (``1e4``) are accepted."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{shown(text[:40])} is not an integer") from None
    if not math.isfinite(number) or number != int(number):
        raise argparse.ArgumentTypeError(f"{shown(text[:40])} is not an integer")
    return int(number)


def _print_json(obj) -> None:
    """Strict JSON on stdout (RFC 8259: no NaN/Infinity). Non-finite numbers become null; when the
    top level is a mapping, ``non_finite`` lists where they were and what they were."""
    from analysis.serialize import plain

    nulls: dict = {}
    data = plain(obj, nulls=nulls)
    if nulls and isinstance(data, dict) and "non_finite" not in data:
        data["non_finite"] = nulls
    print(json.dumps(data, indent=2, sort_keys=False, allow_nan=False))


def cmd_reports(args) -> int:
    from analysis import reports
    try:
        results = reports.run_reports(args.scenario or None, out_dir=args.out, jobs=args.jobs,
                                      notebooks=args.notebook or None, timeout_s=args.timeout, scheduler=args.scheduler)
    except KeyboardInterrupt:   # Ctrl-C or SIGTERM: workers and kernels are stopped, the index lists finished reports
        print("error: interrupted; the index lists only the reports that finished", file=sys.stderr)
        return 130
    return 1 if any(r.status != "ok" for r in results) else 0


def cmd_evaluate(args) -> int:
    from analysis import evaluate
    result = evaluate.evaluate(args.scenario, draws=args.draws, seed=args.seed)
    if args.json:
        _print_json(result.to_dict())
    else:
        print(result.summary())
    return 0


def cmd_mfu(args) -> int:
    from analysis import training
    result = training.run_from_file(args.run)
    if args.json:
        _print_json(result.to_dict())
    else:
        print(result.summary())
    return 0


def cmd_inference(args) -> int:
    from analysis import inference
    if args.calibrate:  # the MLPerf fit (analysis.inference.calibration); --write stores it
        from analysis.inference import calibration
        if args.serve:
            raise InputError("inference --calibrate: takes no SERVE.yaml")
        text = calibration.calibration_report(quick=args.quick, write=args.write)
        print(json.dumps(text, indent=2, allow_nan=False) if args.json else text["summary"])
        return 0
    if args.write or args.quick:
        raise InputError("inference --write/--quick: only with --calibrate")
    if not args.serve:
        raise InputError("inference: give a SERVE.yaml (or --calibrate)")
    result = inference.run_from_file(args.serve)
    if args.json:  # strict JSON: to_dict() has no NaN/inf (null with a reason in null_reasons)
        print(json.dumps(result.to_dict(), indent=2, allow_nan=False))
    else:
        print(result.summary())
    return 0


def cmd_sweep(args) -> int:
    from analysis import sweep
    sets = sweep.parse_sets(args.set)
    out = args.out or f"reports/sweeps/{sweep.Path(args.scenario).stem}.csv"
    if sweep.Path(out).suffix not in sweep.OUTPUT_SUFFIXES:
        raise InputError(f"--out: {shown(out[:80])} must end in .csv or .parquet")
    result = sweep.run_sweep(args.scenario, sets, draws=args.draws, seed=args.seed, jobs=args.jobs,
                             scheduler=args.scheduler)
    path = sweep.write_table(result.table, out)
    print(result.summary())
    print(f"wrote {len(result.table):,} rows to {path}")
    return 0


def cmd_bench(args) -> int:
    from analysis import bench
    figures = bench.run()
    if args.json:
        _print_json(figures)
    else:
        for name, value in figures.items():
            print(f"{name:50s} {value:>16,.0f}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m analysis", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("reports", help="execute every notebook for each scenario into HTML reports")
    p.add_argument("--scenario", action="append", help="scenario name or YAML file (repeatable; default: all in data/scenarios)")
    p.add_argument("--notebook", action="append", help="only these notebooks (file name or stem; repeatable)")
    p.add_argument("--jobs", type=int, default=None, help="parallel kernels (default: number of cores)")
    p.add_argument("--out", default=None, help="output directory (default: reports/)")
    p.add_argument("--timeout", type=float, default=900, help="per-cell timeout in seconds (default 900)")
    p.add_argument("--scheduler", default=None,
                   help="address of a running dask.distributed scheduler (tcp://HOST:PORT) whose workers run the notebooks")
    p.set_defaults(func=cmd_reports)

    p = sub.add_parser("evaluate", help="headline figures of one scenario")
    p.add_argument("scenario", help="scenario name or YAML file")
    p.add_argument("--json", action="store_true", help=JSON_HELP)
    p.add_argument("--draws", type=_integer, default=10000, help=f"Monte Carlo draws (default 10000, at most {MAX_DRAWS:,})")
    p.add_argument("--seed", type=_integer, default=0, help=f"random seed, 0 to {MAX_SEED}")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("mfu", help="step model on one training run (RUN.yaml)")
    p.add_argument("run", help="training run YAML (schema in DESIGN.md)")
    p.add_argument("--json", action="store_true", help=JSON_HELP)
    p.set_defaults(func=cmd_mfu)

    p = sub.add_parser("inference", help="serving operating point of one replica under latency targets (SERVE.yaml)")
    p.add_argument("serve", nargs="?", help="serving YAML")
    p.add_argument("--json", action="store_true", help=JSON_HELP)
    p.add_argument("--calibrate", action="store_true", help="refit the efficiencies on the MLPerf rows and print the accuracy")
    p.add_argument("--write", action="store_true", help="with --calibrate: store the fit (data/parameters/inference.yaml)")
    p.add_argument("--quick", action="store_true", help="with --calibrate: the coarser grid")
    p.set_defaults(func=cmd_inference)

    p = sub.add_parser("sweep", help="headline figures over the product of parameter overrides")
    p.add_argument("scenario", help="scenario name or YAML file")
    p.add_argument("--set", action="append", metavar="KEY=V1,V2|LOW:HIGH:N",
                   help="a scenario key path and its values (repeatable; the sweep is the full product)")
    p.add_argument("--draws", type=_integer, default=2000, help=f"Monte Carlo draws per point (default 2000, at most {MAX_DRAWS:,})")
    p.add_argument("--seed", type=_integer, default=0, help=f"random seed, 0 to {MAX_SEED}")
    p.add_argument("--jobs", type=int, default=None, help="local worker processes (default: number of cores)")
    p.add_argument("--out", default=None, help="output table, .csv or .parquet (default reports/sweeps/SCENARIO.csv)")
    p.add_argument("--scheduler", default=None, help="address of a running dask.distributed scheduler (tcp://HOST:PORT)")
    p.set_defaults(func=cmd_sweep)

    from analysis.goodput import cli as goodput_cli
    goodput_cli.add_parser(sub)

    p = sub.add_parser("bench", help="throughput of the model code")
    p.add_argument("--json", action="store_true", help=JSON_HELP)
    p.set_defaults(func=cmd_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    if hasattr(signal, "SIGPIPE"):  # `... | head` closes the pipe early: stop quietly, as Unix tools do
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    args = build_parser().parse_args(argv)
    if getattr(args, "jobs", None) is not None and args.jobs < 1:
        print(f"error: --jobs: {args.jobs} is below 1; use a positive integer", file=sys.stderr)
        return 2
    if getattr(args, "draws", None) is not None and not 1 <= args.draws <= MAX_DRAWS:
        word = "below 1" if args.draws < 1 else f"above the maximum {MAX_DRAWS:,}"
        print(f"error: --draws: {args.draws:,} is {word}; use 1 to {MAX_DRAWS:,} draws", file=sys.stderr)
        return 2
    if getattr(args, "seed", None) is not None and not 0 <= args.seed <= MAX_SEED:
        print(f"error: --seed: {args.seed} is {'below 0' if args.seed < 0 else f'above {MAX_SEED}'}; "
              f"use an integer from 0 to {MAX_SEED}", file=sys.stderr)
        return 2
    timeout = getattr(args, "timeout", None)
    if timeout is not None and not (math.isfinite(timeout) and timeout > 0):
        print(f"error: --timeout: {timeout} is not allowed; use a positive number of seconds", file=sys.stderr)
        return 2
    try:
        return args.func(args)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
