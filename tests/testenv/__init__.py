"""The local Kubernetes control plane tests and benchmarks run against.

Command line: scripts/testenv (see README.md). From Python::

    from testenv import ensure_up, audit_offset, audit_events

    env = ensure_up("default")          # server, kubeconfig, kubeconfig_restricted, audit_log, ...
    start = audit_offset("default")
    ...                                  # run the module under test
    writes = [e for e in audit_events("default", start) if e["verb"] not in ("get", "list", "watch")]
"""

from .cluster import (  # noqa: F401
    PROFILES,
    audit_events,
    audit_offset,
    build,
    down,
    ensure_up,
    info,
    is_up,
    up,
)
from .errors import TestenvError  # noqa: F401
