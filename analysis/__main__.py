"""Command-line interface: ``python -m analysis {reports,evaluate,mfu,inference,bench}``.

Bad input prints one line ``error: ...`` on stderr and exits 2 (never a traceback).
"""
from __future__ import annotations

import argparse
import json
import signal
import sys

from analysis.errors import InputError


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse's own errors also exit 2, on one line
        self.exit(2, f"error: {message} (see --help)\n")


def _print_json(obj) -> None:
    print(json.dumps(obj, indent=2, sort_keys=False, default=float))


def cmd_reports(args) -> int:
    from analysis import reports
    try:
        results = reports.run_reports(args.scenario or None, out_dir=args.out, jobs=args.jobs,
                                      notebooks=args.notebook or None, timeout_s=args.timeout)
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
    result = inference.run_from_file(args.serve)
    if args.json:
        _print_json(result.to_dict())
    else:
        print(result.summary())
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
    p.set_defaults(func=cmd_reports)

    p = sub.add_parser("evaluate", help="headline figures of one scenario")
    p.add_argument("scenario", help="scenario name or YAML file")
    p.add_argument("--json", action="store_true")
    p.add_argument("--draws", type=int, default=10000, help="Monte Carlo draws (default 10000)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("mfu", help="step model on one training run (RUN.yaml)")
    p.add_argument("run", help="training run YAML (schema in DESIGN.md)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_mfu)

    p = sub.add_parser("inference", help="serving throughput of one replica (SERVE.yaml)")
    p.add_argument("serve", help="serving YAML")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_inference)

    p = sub.add_parser("bench", help="throughput of the model code")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    if hasattr(signal, "SIGPIPE"):  # `... | head` closes the pipe early: stop quietly, as Unix tools do
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    args = build_parser().parse_args(argv)
    if getattr(args, "jobs", None) is not None and args.jobs < 1:
        print(f"error: --jobs: {args.jobs} is below 1; use a positive integer", file=sys.stderr)
        return 2
    if getattr(args, "draws", None) is not None and args.draws < 1:
        print(f"error: --draws: {args.draws} is below 1; use a positive integer", file=sys.stderr)
        return 2
    try:
        return args.func(args)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
