"""Check that a change keeps the default run's results: every non-timing metric of
``kedro run --pipeline=aligned --params=k:4`` (E. coli, seed 0) against a committed file.

    python scripts/reference_metrics.py                # run, then compare with the reference
    python scripts/reference_metrics.py --write        # run, then (re)write the reference
    python scripts/reference_metrics.py --project DIR  # run another checkout's code and conf

The run happens in a temporary copy of the project (conf and the bundled raw data), so the
checkout's own data/ and mlflow.db are left alone. Metrics are read from the newest version
of every ``data/08_reporting/metrics/*.json``; keys that time something are left out.
Exit status 1 when a metric is missing, added or different.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "tests" / "reference" / "ecoli_k4_seed0_metrics.json"
COMMAND = ["kedro", "run", "--pipeline=aligned", "--params=k:4"]


def is_timing(key: str) -> bool:
    """A metric that times something: ``*seconds*``, ``*_s`` or ``*_time``."""
    last = key.rsplit(".", 1)[-1]
    return "seconds" in last or last.endswith(("_s", "_time"))


def run_metrics(project: Path) -> dict[str, object]:
    """Run the default job in a copy of ``project`` and return its non-timing metrics."""
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for name in ("pyproject.toml", ".telemetry"):
            shutil.copy(project / name, work / name)
        shutil.copytree(project / "conf", work / "conf")
        shutil.copytree(project / "data" / "01_raw", work / "data" / "01_raw")
        (work / "src").mkdir()
        kedro = Path(sys.executable).with_name("kedro")
        subprocess.run([str(kedro), *COMMAND[1:]], cwd=work, check=True)
        metrics: dict[str, object] = {}
        for dataset in sorted((work / "data" / "08_reporting" / "metrics").iterdir()):
            newest = sorted(dataset.iterdir())[-1] / dataset.name
            for key, value in json.loads(newest.read_text()).items():
                if not is_timing(key):
                    metrics[key] = value
    return dict(sorted(metrics.items()))


def differences(found: dict, expected: dict, rel: float = 1e-9) -> list[str]:
    """One line per metric that is missing, added or different."""
    lines = [f"missing: {key}" for key in expected.keys() - found.keys()]
    lines += [f"added: {key}" for key in found.keys() - expected.keys()]
    for key in sorted(expected.keys() & found.keys()):
        a, b = _flat(found[key]), _flat(expected[key])
        same = len(a) == len(b) and all(
            math.isclose(x, y, rel_tol=rel, abs_tol=1e-12) for x, y in zip(a, b, strict=True)
        )
        if not same:
            lines.append(f"different: {key}: {found[key]!r} != {expected[key]!r}")
    return sorted(lines)


def _flat(value: object) -> list[float]:
    return [float(v) for v in value] if isinstance(value, list) else [float(value)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help="write the reference file")
    parser.add_argument("--project", type=Path, default=ROOT, help="project to run")
    args = parser.parse_args()
    metrics = run_metrics(args.project.resolve())
    if args.write:
        REFERENCE.parent.mkdir(parents=True, exist_ok=True)
        REFERENCE.write_text(json.dumps(metrics, indent=1) + "\n")
        print(f"wrote {len(metrics)} metrics to {REFERENCE.relative_to(ROOT)}")
        return 0
    lines = differences(metrics, json.loads(REFERENCE.read_text()))
    print("\n".join(lines) or f"all {len(metrics)} non-timing metrics equal the reference")
    return 1 if lines else 0


if __name__ == "__main__":
    raise SystemExit(main())
