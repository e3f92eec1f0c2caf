"""A run publishes together: the ledger of the project's runs, and retention.

Every versioned output of a run goes to ``<dataset>/<version>/`` (Kedro's versioning; the
version is the run's session ID). The ledger, one JSON file per run under ``data/.runs/``,
records when a run starts which version folders it will write. A run that completes is
marked ``complete`` after the files it staged for a fixed path (``report.html``) are
renamed into place. A run that fails or is interrupted is marked ``failed`` or ``killed``:
its version folders move to ``data/.incomplete/<version>/`` (kept to look at, never loaded
as "latest") and its staged files are deleted. A run whose process died without a word
(``kill -9``, a power cut) is found and treated the same way when the project next starts.

`prune` keeps the versions of the last N complete runs and the newest complete version of
every dataset, and removes the rest.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

LEDGER = Path("data") / ".runs"
INCOMPLETE = Path("data") / ".incomplete"
STAGED_PREFIX = ".staged-"
VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}\.\d{2}\.\d{2}\.\d{3}Z$")
RUNNING, COMPLETE, FAILED, KILLED = "running", "complete", "failed", "killed"


def process_token(pid: int) -> str | None:
    """When process `pid` started (Linux: clock ticks since boot), or None where that
    cannot be read; it tells a process from a later one given the same ID."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[-1].split()[19]


def process_alive(pid: int, token: str | None) -> bool:
    """Whether process `pid` still runs and is the one that started with `token`."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    found = process_token(pid)
    return token is None or found is None or found == token


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    partial.write_text(json.dumps(data, indent=1) + "\n")
    os.replace(partial, path)


def write_atomically(path: Path, write: Any) -> None:
    """Call ``write(partial_path)``, then rename the partial file to `path`: a reader sees
    the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        write(partial)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


@dataclass
class RunRecord:
    """One run in the ledger: its version, process, pipelines, state, the version folders
    it writes and the ``[staged, final]`` file pairs it publishes when it completes."""

    version: str
    pid: int
    host: str
    token: str | None
    started: float
    pipelines: list[str]
    command: str = ""
    status: str = RUNNING
    ended: float | None = None
    mlflow_run_id: str | None = None
    outputs: list[str] = field(default_factory=list)
    staged: list[list[str]] = field(default_factory=list)

    def abandoned(self) -> bool:
        """Still marked running, on this machine, by a process that is gone."""
        return (
            self.status == RUNNING
            and self.host == socket.gethostname()
            and not process_alive(self.pid, self.token)
        )


class RunLedger:
    """The runs of the project at `root` (``data/.runs/<version>.json``)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()

    def _path(self, version: str) -> Path:
        return self.root / LEDGER / f"{version}.json"

    def _resolve(self, path: str) -> Path:
        return self.root / path

    def save(self, record: RunRecord) -> None:
        _write_json(self._path(record.version), asdict(record))

    def records(self) -> list[RunRecord]:
        """Every run in the ledger, oldest first."""
        folder = self.root / LEDGER
        if not folder.is_dir():
            return []
        found = []
        for path in sorted(folder.glob("*.json")):
            try:
                found.append(RunRecord(**json.loads(path.read_text())))
            except (ValueError, TypeError):
                continue  # a record being written by another process
        return found

    def start(
        self, version: str, outputs: Iterable[Path], pipelines: list[str], command: str = ""
    ) -> RunRecord:
        """Record a run that starts now and will write the version folders `outputs`."""
        record = RunRecord(
            version=version,
            pid=os.getpid(),
            host=socket.gethostname(),
            token=process_token(os.getpid()),
            started=time.time(),
            pipelines=pipelines,
            command=command,
            outputs=sorted({self._relative(p) for p in outputs}),
        )
        self.save(record)
        return record

    def _relative(self, path: Path) -> str:
        path = Path(path).resolve()
        return str(path.relative_to(self.root)) if path.is_relative_to(self.root) else str(path)

    def stage(self, record: RunRecord, final: Path) -> Path:
        """Where `record`'s run writes the file it will publish at `final` when it
        completes: ``<folder>/.staged-<version>/<name>`` (same file system, so the rename
        is atomic). The pair is in the ledger before anything is written."""
        staged = final.parent / f"{STAGED_PREFIX}{record.version}" / final.name
        pair = [self._relative(staged), self._relative(final)]
        if pair not in record.staged:
            record.staged.append(pair)
            self.save(record)
        staged.parent.mkdir(parents=True, exist_ok=True)
        return staged

    def complete(self, record: RunRecord) -> None:
        """Publish the staged files (each renamed into place), then mark the run complete."""
        for staged, final in record.staged:
            source = self._resolve(staged)
            if source.exists():
                os.replace(source, self._resolve(final))
            _remove_empty(source.parent)
        self._end(record, COMPLETE)

    def abandon(self, record: RunRecord, status: str) -> list[Path]:
        """A failed (`status` ``failed``) or interrupted (``killed``) run: move its
        version folders to ``data/.incomplete/<version>/``, delete its staged files and
        mark it. Returns where the folders went."""
        moved = []
        for output in record.outputs:
            source = self._resolve(output)
            if not source.exists():
                continue
            inside = source.relative_to(self.root) if source.is_relative_to(self.root) else None
            relative = inside if inside is not None else Path(*source.parts[1:])
            target = self.root / INCOMPLETE / record.version / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(source), str(target))
            _remove_empty(source.parent)
            moved.append(target)
        for staged, _ in record.staged:
            path = self._resolve(staged)
            path.unlink(missing_ok=True)
            _remove_empty(path.parent)
        self._end(record, status)
        return moved

    def _end(self, record: RunRecord, status: str) -> None:
        record.status = status
        record.ended = time.time()
        self.save(record)

    def recover(self) -> list[RunRecord]:
        """Abandon, as killed, every run whose process died while it ran."""
        found = [record for record in self.records() if record.abandoned()]
        for record in found:
            self.abandon(record, KILLED)
        return found


def _remove_empty(folder: Path) -> None:
    with contextlib.suppress(OSError):
        folder.rmdir()


_ACTIVE: list[tuple[RunLedger, RunRecord]] = []


def activate(ledger: RunLedger, record: RunRecord) -> None:
    """Make `record` the run of this process: datasets stage their fixed-path files in it."""
    _ACTIVE[:] = [(ledger, record)]


def deactivate() -> None:
    _ACTIVE.clear()


def staging_path(final: Path) -> Path | None:
    """Where to write a file that replaces `final`: staged in this process's run (renamed
    into place when the run completes), or None outside a run."""
    if not _ACTIVE:
        return None
    ledger, record = _ACTIVE[0]
    return ledger.stage(record, Path(final))


def _exit_143(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)


def exit_on_sigterm() -> None:
    """Turn SIGTERM (``kill``) into SystemExit in the main thread, so a terminated run ends
    through its exit handlers (marked killed) instead of vanishing mid-write."""
    in_main = threading.current_thread() is threading.main_thread()
    if in_main and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _exit_143)


def version_folders(data: Path) -> Iterator[tuple[Path, list[str]]]:
    """Every versioned dataset folder under `data` with its version names, oldest first:
    a folder whose children are versions holding a file of the folder's name. Hidden
    folders (the ledger, incomplete runs, staged files) are skipped."""
    for folder, dirs, _ in os.walk(data):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        path = Path(folder)
        versions = sorted(d for d in dirs if VERSION.match(d) and (path / d / path.name).exists())
        if versions:
            dirs[:] = [d for d in dirs if d not in versions]
            yield path, versions


@dataclass(frozen=True)
class PruneResult:
    """What `prune` removed (or would remove), and the runs it kept."""

    removed: tuple[Path, ...]
    freed_bytes: int
    kept_runs: tuple[str, ...]


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def prune(root: Path, keep: int, *, dry_run: bool = False) -> PruneResult:
    """Remove every version older than the last `keep` complete runs, except the newest
    complete version of each dataset (whatever run wrote it), and the incomplete runs'
    folders older than them. Versions of runs still going are never touched; versions
    no run of the ledger wrote (older projects) count as complete."""
    if keep < 1:
        raise ValueError(f"keep must be at least 1, got {keep}")
    ledger = RunLedger(root)
    records = {r.version: r for r in ledger.records()}
    complete = sorted(v for v, r in records.items() if r.status == COMPLETE)
    kept_runs = tuple(complete[-keep:])
    cutoff = kept_runs[0] if len(complete) >= keep else None
    removed: list[Path] = []
    if cutoff is not None:
        for folder, versions in version_folders(ledger.root / "data"):
            usable = [v for v in versions if v not in records or records[v].status == COMPLETE]
            newest = usable[-1] if usable else None
            for version in versions:
                running = version in records and records[version].status == RUNNING
                if version < cutoff and version != newest and not running:
                    removed.append(folder / version)
        incomplete = ledger.root / INCOMPLETE
        if incomplete.is_dir():
            removed += [p for p in sorted(incomplete.iterdir()) if p.name < cutoff]
    freed = sum(_size(p) for p in removed)
    if not dry_run:
        for path in removed:
            shutil.rmtree(path, ignore_errors=True)
        for version, record in records.items():
            if cutoff is not None and version < cutoff and record.status != RUNNING:
                ledger._path(version).unlink(missing_ok=True)
    return PruneResult(tuple(removed), freed, kept_runs)


def main(argv: list[str] | None = None) -> int:
    """``python -m aligned_kedro.runs prune --keep 5 [--dry-run] [--project DIR]``."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m aligned_kedro.runs")
    commands = parser.add_subparsers(dest="command", required=True)
    prune_parser = commands.add_parser("prune", help=prune.__doc__.split("\n")[0])
    prune_parser.add_argument("--keep", type=int, default=5)
    prune_parser.add_argument("--dry-run", action="store_true")
    prune_parser.add_argument("--project", type=Path, default=Path.cwd())
    commands.add_parser("list", help="the runs of the ledger").add_argument(
        "--project", type=Path, default=Path.cwd()
    )
    args = parser.parse_args(argv)
    if args.command == "list":
        for record in RunLedger(args.project).records():
            print(f"{record.version}  {record.status:8s}  {' '.join(record.pipelines)}")
        return 0
    ledger = RunLedger(args.project)
    for record in ledger.recover():
        print(f"run {record.version} (process {record.pid}) had died: marked killed")
    result = prune(args.project, args.keep, dry_run=args.dry_run)
    verb = "would remove" if args.dry_run else "removed"
    print(
        f"{verb} {len(result.removed)} folders, {result.freed_bytes / 2**20:.1f} MiB; "
        f"kept the last {len(result.kept_runs)} complete runs "
        f"({', '.join(result.kept_runs) or 'none'}) and each dataset's newest version"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
