"""scripts/testenv build|up|down|status|env [--profile default|v1alpha3|all]"""

import argparse
import os
import sys
import time

from . import cluster
from .errors import TestenvError

EXIT_DOWN = 3
TAIL_LINES = 40

# What a command acts on when --profile is not given.
DEFAULT_SCOPE = {"build": "default", "up": "default", "env": "default", "down": "all", "status": "all"}


def _parser():
    parser = argparse.ArgumentParser(
        prog="testenv",
        description="Local etcd, kube-apiserver, kube-controller-manager and Istio's webhook, for tests (tests/testenv/README.md).",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    helps = {
        "build": "compile etcd, kube-apiserver, kube-controller-manager and istiod and fetch Istio's CRDs, if not cached yet",
        "up": "start the profile, or reuse it if it is already running",
        "down": "stop the profile and delete its state (default: every profile)",
        "status": "show whether the profile is up (default: every profile); exit 3 if down",
        "env": "print the shell line that points KUBECONFIG at the profile",
    }
    choices = sorted(cluster.PROFILES) + ["all"]
    for name, text in helps.items():
        sub = commands.add_parser(name, help=text, description=text)
        scopes = sorted(cluster.PROFILES) if name == "env" else choices
        sub.add_argument("--profile", choices=scopes, help="default: %s" % DEFAULT_SCOPE[name])
        if name == "env":
            sub.add_argument("--restricted", action="store_true",
                             help="the restricted user's kubeconfig instead of the admin's")
    return parser


def _profiles(args):
    scope = args.profile or DEFAULT_SCOPE[args.command]
    return sorted(cluster.PROFILES) if scope == "all" else [scope]


def _describe(details, state):
    print("%s: %s" % (details["profile"], state))
    print("  server      %s" % details["server"])
    print("  kubeconfig  %s" % details["kubeconfig"])
    print("  restricted  %s (user %s, namespace %s)" % (
        details["kubeconfig_restricted"], details["restricted_user"], details["restricted_namespace"]))
    print("  audit log   %s" % details["audit_log"])
    if details.get("webhook"):
        print("  webhook     %s (istiod, Istio's validation)" % details["webhook"])
    if details.get("restarted"):
        print("  restarted   %s" % ", ".join(details["restarted"]))


def _tail(path):
    try:
        with open(path, "rb") as f:
            lines = f.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return
    print("--- last %d lines of %s ---" % (TAIL_LINES, path), file=sys.stderr)
    for line in lines[-TAIL_LINES:]:
        print(line, file=sys.stderr)


def run(args):
    profiles = _profiles(args)
    if args.command == "build":
        cluster.build()
        return 0
    if args.command == "up":
        for name in profiles:
            started = time.monotonic()
            details = cluster.up(name)
            verb = "started" if details["started"] else "already running"
            _describe(details, "up (%s, %.1f s)" % (verb, time.monotonic() - started))
        return 0
    if args.command == "down":
        # The default profile's directory contains the others: stop those first.
        for name in sorted(profiles, key=lambda n: n == "default"):
            print("%s: %s" % (name, "stopped" if cluster.down(name) else "was not running"))
        return 0
    if args.command == "status":
        states = {name: cluster.is_up(name) for name in profiles}
        for name in profiles:
            _describe(cluster.info(name), "up" if states[name] else "down")
        return 0 if any(states.values()) else EXIT_DOWN
    if args.command == "env":
        name = profiles[0]
        details = cluster.info(name)
        if not cluster.is_up(name):
            print("testenv: profile %s is not up; run: scripts/testenv up --profile %s" % (name, name),
                  file=sys.stderr)
        print("export KUBECONFIG=%s" % details["kubeconfig_restricted" if args.restricted else "kubeconfig"])
        return 0
    raise AssertionError(args.command)


def main(argv=None):
    args = _parser().parse_args(argv)
    try:
        return run(args)
    except TestenvError as exc:
        for path in exc.logs:
            _tail(path)
        print("testenv: %s" % exc, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # Output piped into e.g. `head`. Exit as a shell tool killed by SIGPIPE would, after
        # pointing stdout at /dev/null so that the interpreter's final flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())
