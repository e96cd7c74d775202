"""Score the deployment plan's memory and start-up figures against real vLLM start-up logs.

    python -m benchmark.run                 # print the table and summary, rewrite results.md
    python -m benchmark.run --no-write      # print only

Cases and their logged figures are in benchmark/cases.yaml; README.md explains the split and
the findings. Each case becomes the stack config that runs it (benchmark/stacks.py) and the
plan's own steps predict it (benchmark/predict.py); benchmark/score.py measures the errors and
benchmark/report.py writes them.
"""

from __future__ import annotations

import argparse
import pathlib
import sys

from benchmark.cases import CASES_FILE, HERE
from benchmark.report import render_results, render_summary, render_table
from benchmark.router_report import keep_section
from benchmark.score import run, summarize

RESULTS_FILE = HERE / "results.md"


def main(argv: list[str] | None = None) -> int:
    """CLI: print the per-case table and the summary; write results.md unless --no-write."""
    parser = argparse.ArgumentParser(prog="python -m benchmark.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=pathlib.Path, default=CASES_FILE)
    parser.add_argument("--results", type=pathlib.Path, default=RESULTS_FILE)
    parser.add_argument("--no-write", action="store_true", help="do not rewrite results.md")
    args = parser.parse_args(argv)
    rows = run(args.cases)
    summary = summarize(rows)
    print(render_table(rows))
    print()
    print(render_summary(summary))
    if not args.no_write:
        previous = args.results.read_text(encoding="utf-8") if args.results.exists() else ""
        args.results.write_text(keep_section(render_results(rows, summary), previous),
                                encoding="utf-8")
        print(f"\nwrote {args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
