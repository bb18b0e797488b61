"""The lifecycle every writing module goes through: check mode, apply, re-apply."""

from ansible_run import run_module


def check_apply_reapply(cluster, namespace, module, args, kind, name):
    """Returns the object the API server holds after the real apply."""
    before = cluster.get(kind, namespace, name)
    args = dict(args, namespace=namespace)
    conn = cluster.connection()

    res = run_module(module, args, check=True, diff=True, connection=conn)[0]
    assert not res.get("failed"), res.get("msg")
    assert res["changed"] is True
    assert "diff" in res and res["diff"]["after"]
    assert cluster.get(kind, namespace, name) == before, "check mode wrote to the API server"

    res = run_module(module, args, connection=conn)[0]
    assert not res.get("failed"), res.get("msg")
    assert res["changed"] is True
    live = cluster.get(kind, namespace, name)
    assert live is not None

    res = run_module(module, args, connection=conn)[0]
    assert not res.get("failed"), res.get("msg")
    assert res["changed"] is False, "second run reported a change: %s" % res.get("diff")
    again = cluster.get(kind, namespace, name)
    assert again["metadata"]["resourceVersion"] == live["metadata"]["resourceVersion"]
    return live
