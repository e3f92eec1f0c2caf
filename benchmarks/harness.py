"""Shared driver of the benchmarks: each case runs in a fresh process, so peak RSS is per case."""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any


def run_cases(
    script: str,
    cases: Mapping[str, Any],
    run_case: Callable[[str], dict],
    format_line: Callable[[dict], str],
    argv: list[str] | None = None,
    description: str | None = None,
) -> int:
    """``--case NAME`` runs one case here; otherwise every (or each ``--cases``) case in turn."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--case", choices=sorted(cases), help="run one case in this process")
    parser.add_argument("--cases", help="comma-separated cases, each in a fresh process")
    args = parser.parse_args(argv)
    if args.case:
        print(format_line(run_case(args.case)), flush=True)
        return 0
    names = args.cases.split(",") if args.cases else list(cases)
    unknown = [name for name in names if name not in cases]
    if unknown:
        print(f"unknown case {unknown[0]!r}; known: {sorted(cases)}", file=sys.stderr)
        return 2
    status = 0
    for name in names:
        command = [sys.executable, str(Path(script).resolve()), "--case", name]
        status = status or subprocess.run(command, check=False).returncode
    return status
