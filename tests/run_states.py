"""Run `pipeline` of the project at `path` and stop it at node `at` by `how`: ``raise``
(an error in the node), ``sigint`` (Ctrl-C), ``sigterm`` (``kill``) or ``sigkill``
(``kill -9``). Used by tests/test_run_states.py, in-process or as a script:

    python tests/run_states.py PROJECT PIPELINE NODE HOW
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

from kedro.framework.hooks import hook_impl
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

SIGNALS = {"sigint": signal.SIGINT, "sigterm": signal.SIGTERM, "sigkill": signal.SIGKILL}


class StopAt:
    """Stops the run as node `at` starts."""

    def __init__(self, at: str, how: str) -> None:
        self.at, self.how = at, how

    @hook_impl
    def before_node_run(self, node) -> None:
        if node.name != self.at:
            return
        if self.how == "raise":
            raise RuntimeError(f"stopped at {node.name}")
        os.kill(os.getpid(), SIGNALS[self.how])


def run(path: Path, pipeline: str, at: str, how: str, params: dict | None = None) -> None:
    """One run in this process; the working directory must be `path`."""
    bootstrap_project(path)
    with KedroSession.create(project_path=path, runtime_params=params or {}) as session:
        session._hook_manager.register(StopAt(at, how))
        session.run(pipeline_names=[pipeline])


if __name__ == "__main__":
    # a process started in the background by a non-interactive shell inherits SIGINT as
    # ignored, and Python then installs no KeyboardInterrupt handler: Ctrl-C needs one
    signal.signal(signal.SIGINT, signal.default_int_handler)
    os.chdir(sys.argv[1])
    run(Path(sys.argv[1]), *sys.argv[2:5])
