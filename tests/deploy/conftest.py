"""Fixtures of the deployment tests: the production topology as real processes on loopback."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from tests.deploy.topology import MissingBinariesError, Topology, find_binaries, find_program


def require_binaries(extra: Sequence[str] = ()) -> None:
    """Skip when PostgreSQL, Redis (or an ``extra`` program) is missing on a developer
    machine; fail in CI.

    CI (``CI=true``) installs them in ``.ci/run``: a missing binary there is a broken setup
    that must not pass as a skip.
    """
    problems = []
    try:
        find_binaries()
    except MissingBinariesError as error:
        problems.append(str(error))
    missing = [name for name in extra if find_program(name) is None]
    if missing:
        problems.append(f"{', '.join(missing)} not found (Debian package nginx)")
    if not problems:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true but {'; '.join(problems)}")
    pytest.skip("; ".join(problems))


# Rasa's lock lifetime in the test topology (production default: 60 s). It bounds how long a
# conversation waits for a replica that died holding its lock; shorter keeps the kill test
# short, and is still far above the longest turn here.
LOCK_LIFETIME = 15


@pytest.fixture(scope="module")
def topology() -> Iterator[Topology]:
    """PostgreSQL, Redis, one action server and two Rasa replicas, started once per module.

    Tests that stop or kill parts call ``ensure_running()`` first, so each test starts from a
    complete topology whatever ran before it.
    """
    require_binaries()
    # mkdtemp (not pytest's tmp_path): PostgreSQL runs as another user when we are root and
    # must be able to traverse the path to its directory.
    workdir = Path(tempfile.mkdtemp(prefix="lpse-deploy-"))
    started = Topology(workdir, replicas=2, extra_env={"TICKET_LOCK_LIFETIME": str(LOCK_LIFETIME)})
    try:
        started.start()
        yield started
    finally:
        started.stop()
        shutil.rmtree(workdir, ignore_errors=True)
