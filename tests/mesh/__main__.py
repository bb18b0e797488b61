"""scripts/mesh build|up|down|status|client (tests/mesh/README.md)."""

import argparse
import json
import sys

from . import topology

EXIT_DOWN = 3
TAIL_LINES = 30


def _tail(path):
    try:
        with open(path, "rb") as f:
            lines = f.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return
    print("--- last lines of %s" % path, file=sys.stderr)
    for line in lines[-TAIL_LINES:]:
        print(line, file=sys.stderr)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="mesh", description="Local Istio data plane on top of the testenv.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("build", help="compile istiod (pilot-discovery) into the cache, if not there yet")
    p = sub.add_parser("up", help="start istiod, the BookInfo apps and their Envoys (or reuse them)")
    p.add_argument("--namespace", default=topology.DEFAULT_NAMESPACE)
    sub.add_parser("down", help="stop everything up started")
    sub.add_parser("status", help="what runs; exit 3 if the mesh is down")
    p = sub.add_parser("client", help="view the product page and print what a reader sees")
    p.add_argument("--user", action="append", help="user to sign in as; 'anonymous' for none (repeatable)")
    p.add_argument("--count", type=int, default=1)
    args = parser.parse_args(argv)

    from . import control

    try:
        if args.command == "build":
            took = control.build()
            print("pilot-discovery: %s (%s)" % (control.istiod_binary(), "cached" if took is None else
                                                "built in %.0f s" % took))
        elif args.command == "up":
            state = control.up(args.namespace)
            print(json.dumps(state, indent=1))
        elif args.command == "down":
            stopped = control.down()
            print("stopped: %s" % (", ".join(stopped) or "nothing was running"))
        elif args.command == "status":
            st = control.status()
            print(json.dumps(st, indent=1))
            return 0 if st["up"] else EXIT_DOWN
        elif args.command == "client":
            from . import client

            for user in args.user or ["jason", "anonymous"]:
                who = None if user == "anonymous" else user
                counts, seen = client.sample(who, args.count)
                for o in seen if args.count <= 5 else []:
                    print(o.line())
                if args.count > 5:
                    print("%-9s %s" % (user, ", ".join("%s: %d" % kv for kv in sorted(counts.items()))))
    except control.MeshError as exc:
        print("mesh: %s" % exc, file=sys.stderr)
        for log in exc.logs:
            _tail(log)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
