"""The message function's SnapStart hooks (order_agent/edge/snapstart.py): the snapshot holds nothing
unique to one environment — no socket, no AWS client, no credential, no database connection — and
each restored environment draws its own random numbers.

The snapshot case runs in a fresh interpreter that loads lambdas/message/handler.py as the Lambda
runtime does, with a stand-in for the runtime's `snapshot_restore_py`; two forks of it after the
before-snapshot hook play two environments restored from one snapshot.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from order_agent.edge import snapstart

ROOT = Path(__file__).resolve().parents[2]

SNAPSHOT_AND_TWO_RESTORES = textwrap.dedent(
    """
    import importlib.util, json, os, random, socket, sys, types

    refused = []

    def refuse(name):
        def refusal(*args, **kwargs):
            refused.append(name)
            raise AssertionError(f"{name} before the snapshot")
        return refusal

    import botocore.session, psycopg2
    botocore.session.Session.create_client = refuse("an AWS client")
    botocore.session.Session.get_credentials = refuse("reading credentials")
    socket.socket.connect = refuse("a connection")
    psycopg2.connect = refuse("a database connection")

    hooks = types.ModuleType("snapshot_restore_py")
    hooks.before, hooks.after = [], []
    hooks.register_before_snapshot = hooks.before.append
    hooks.register_after_restore = hooks.after.append
    sys.modules["snapshot_restore_py"] = hooks

    spec = importlib.util.spec_from_file_location("handler", "lambdas/message/handler.py")
    spec.loader.exec_module(importlib.util.module_from_spec(spec))
    loaded_at_import = "langgraph" in sys.modules
    for hook in reversed(hooks.before):  # the runtime's order: the last registered first
        hook()

    def open_sockets():
        found = []
        for fd in os.listdir("/proc/self/fd"):
            try:
                target = os.readlink(f"/proc/self/fd/{fd}")
            except OSError:  # the listing's own descriptor, closed already
                continue
            if target.startswith("socket:"):
                found.append(target)
        return found

    snapshot = {
        "hooks": [len(hooks.before), len(hooks.after)],
        "langgraph_loaded_at_import": loaded_at_import,
        "agent_loaded_before_snapshot": "order_agent.agent.service" in sys.modules,
        "refused": refused,
        "open_sockets": open_sockets(),
    }
    draws = []
    for _ in range(2):  # two environments restored from this snapshot
        read, write = os.pipe()
        if os.fork() == 0:
            os.close(read)
            for hook in hooks.after:
                hook()
            os.write(write, repr(random.random()).encode())
            os._exit(0)
        os.close(write)
        draws.append(os.read(read, 100).decode())
        os.wait()
    print(json.dumps({**snapshot, "draws": draws}))
    """
)


def test_the_snapshot_holds_no_connection_client_or_credential_and_each_restore_reseeds_random():
    env = {**os.environ, "AWS_LAMBDA_INITIALIZATION_TYPE": "snap-start", "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run(
        [sys.executable, "-c", SNAPSHOT_AND_TWO_RESTORES], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["hooks"] == [1, 1]
    assert not result["langgraph_loaded_at_import"]  # importing the handler stays small
    assert result["agent_loaded_before_snapshot"]  # ... and the snapshot holds the agent
    assert result["refused"] == [] and result["open_sockets"] == []
    first, second = result["draws"]
    assert first != second  # without the after-restore hook both environments would draw the same


def test_an_init_that_is_not_snapshotted_warms_at_once(monkeypatch):
    warmed = []
    monkeypatch.setattr(snapstart, "warm", lambda: warmed.append(True))
    registered = []
    hooks = type(
        "Hooks", (), {"register_before_snapshot": registered.append, "register_after_restore": registered.append}
    )

    monkeypatch.setenv("AWS_LAMBDA_INITIALIZATION_TYPE", "snap-start")
    snapstart.prepare(hooks)
    assert warmed == [] and len(registered) == 2  # SnapStart calls the hook before its snapshot

    monkeypatch.setenv("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")
    snapstart.prepare(hooks)
    assert warmed == [True]
