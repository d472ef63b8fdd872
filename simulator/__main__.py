"""``python -m simulator --port N [--records Leads=1000000] [--per-page N] [--job-seconds A B]``."""

from __future__ import annotations

import argparse
import sys

from simulator.config import DEFAULT_RECORDS, SimConfig
from simulator.testing import serve


def parse_config(args: argparse.Namespace) -> SimConfig:
    records = dict(DEFAULT_RECORDS)
    for item in args.records:
        module, _, count = item.partition("=")
        if not count.isdigit():
            raise SystemExit(f"--records expects MODULE=COUNT, got {item!r}")
        records[module] = int(count)
    return SimConfig(
        seed=args.seed,
        records=records,
        per_page=args.per_page,
        job_seconds=(args.job_seconds[0], args.job_seconds[1]),
    )


def main(argv: list[str] | None = None) -> int:
    defaults = SimConfig()
    parser = argparse.ArgumentParser(prog="python -m simulator", description=__doc__)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--records", action="append", default=[], metavar="MODULE=COUNT")
    parser.add_argument("--per-page", type=int, default=defaults.per_page)
    parser.add_argument(
        "--job-seconds",
        type=float,
        nargs=2,
        default=list(defaults.job_seconds),
        metavar=("MIN", "MAX"),
    )
    args = parser.parse_args(argv)
    config = parse_config(args)
    print(f"Zoho simulator on http://127.0.0.1:{args.port} (Ctrl-C stops)", file=sys.stderr)
    serve(args.port, config)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
