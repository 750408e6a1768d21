"""Maintenance of tracked runs: ``python -m fmnist.runs {stale,resend} ...``.

``stale`` lists runs left RUNNING by a process that died, and marks them KILLED with
``--mark-killed``. ``resend`` delivers the runs that jobs kept locally while the tracking
server was unreachable (``mlflow_run.json`` in the job folders under the given paths).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from fmnist.track.record import RunRecord, pending_records, send
from fmnist.track.store import check_reachable, client_for, configure_client, ensure_experiment, resolve_uri

log = logging.getLogger("fmnist.runs")


def command_stale(args: argparse.Namespace) -> int:
    from fmnist.track.stale import find_stale, mark_killed

    uri = resolve_uri(args.tracking_uri)
    check_reachable(uri, 5)
    client = client_for(uri)
    experiments = [e.experiment_id for e in client.search_experiments()]
    stale = find_stale(client, experiments, args.older_than_s) if experiments else []
    for run in stale:
        print(f"{run.info.run_id}  {run.info.run_name}  started {run.info.start_time}")
    if args.mark_killed:
        mark_killed(client, stale)
        print(f"{len(stale)} stale runs marked KILLED")
    else:
        print(f"{len(stale)} stale runs (add --mark-killed to mark them KILLED)")
    return 0


def command_resend(args: argparse.Namespace) -> int:
    configure_client(30, 2)
    paths = [p for root in args.paths for p in pending_records(Path(root))]
    failed = 0
    for path in paths:
        record = RunRecord.load(path)
        uri = resolve_uri(args.tracking_uri or record.tracking_uri)
        try:
            client = client_for(uri)
            experiment_id = ensure_experiment(client, uri, record.experiment_name)
            send(record, path.parent, client, experiment_id)
            record.tracking_uri = uri
            print(f"sent {path.parent} as run {record.run_id} ({record.status})")
        except Exception as error:  # report every record, then exit non-zero
            failed += 1
            print(f"FAILED {path.parent}: {str(error).splitlines()[0][:300]}", file=sys.stderr)
        finally:
            record.save(path.parent)
    print(f"{len(paths) - failed} of {len(paths)} pending runs sent")
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fmnist.runs", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    stale = commands.add_parser("stale", help="list (and mark KILLED) runs left RUNNING by dead processes")
    stale.add_argument("--tracking-uri", help="store or server (default: MLFLOW_TRACKING_URI or the embedded store)")
    stale.add_argument("--older-than-s", type=float, default=3600,
                       help="heartbeat age in seconds after which a run from another host counts as stale")
    stale.add_argument("--mark-killed", action="store_true", help="mark the stale runs KILLED")
    stale.set_defaults(handler=command_stale)
    resend = commands.add_parser("resend", help="send runs kept locally while the store was unreachable")
    resend.add_argument("paths", nargs="+", help="job or sweep folders (e.g. multirun/2026-12-04/10-00-00)")
    resend.add_argument("--tracking-uri", help="send to this store instead of the one each run was meant for")
    resend.set_defaults(handler=command_resend)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    if args.command == "stale" and args.tracking_uri is None:
        import os

        args.tracking_uri = os.environ.get("MLFLOW_TRACKING_URI")
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
