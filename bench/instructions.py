"""Instructions each step of sending costs per message, counted by valgrind: the same every run.

    python -m bench.instructions [--messages 100] [--kind delivery|campaign] [--step TEXT]

``bench.steps`` times the steps in CPU time, which on a shared virtual machine still moves by
a tenth or more between runs — often more than the change being judged. This counts the CPU
instructions instead (valgrind's callgrind), which do not depend on the neighbours: the same
code gives the same count within a fraction of a per cent, so a change of 2 % in one step shows.

The batches are ``bench.steps``' (a transactional message with a 10.7 KB body, a campaign
invitation from ``bench.campaign_send``'s template, both signed with RSA-2048), made once in a
fresh SQLite data directory. Each step then runs in two processes under callgrind, one running
it once over the batch and one four times, after the same start-up: the difference, divided by
three times the batch, is the step's count per message (start-up, imports and warming cancel out).
``--step`` takes the steps whose name contains it (``--step MIME``); without it every step of
``bench.steps`` is counted, two processes at a time, about 20 minutes on two cores.

Needs valgrind (Debian: ``apt-get install valgrind``). Last line:
``delivery_instructions=<f> campaign_instructions=<f>`` — thousands per message, the sum of
each kind's counted steps (0 for a kind not counted).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.site import scratch_site

REPEAT = 3  # the runs the second process makes over the batch beyond the first's one
_COLLECTED = re.compile(r"Collected : (\d+)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=100, help="a batch")
    parser.add_argument("--kind", choices=["delivery", "campaign"], help="one kind of message only")
    parser.add_argument("--step", default="", help="only the steps whose name contains this")
    parser.add_argument("--child", nargs=4, metavar=("DATA_DIR", "KIND", "STEP", "RUNS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(*args.child)
        return
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        sys.exit("valgrind not found: install it (Debian: apt-get install valgrind)")
    with scratch_site("openesp-bench-instructions-", None) as data_dir:
        kinds = [args.kind] if args.kind else ["delivery", "campaign"]
        names = _prepare(data_dir, args.messages, kinds)
        totals = {"delivery": 0.0, "campaign": 0.0}
        print(f"{args.messages} messages a batch; thousands of instructions per message (callgrind)")
        for kind in kinds:
            chosen = [name for name in names[kind] if args.step in name]
            with ThreadPoolExecutor(os.cpu_count() or 1) as pool:  # every process on its own core
                runs = {
                    (name, n): pool.submit(_instructions, valgrind, data_dir, kind, name, n)
                    for name in chosen
                    for n in (1, 1 + REPEAT)
                }
                counts = [
                    (runs[name, 1 + REPEAT].result() - runs[name, 1].result()) / REPEAT / args.messages / 1000
                    for name in chosen
                ]
            print(f"\n{kind}:")
            for name, count in zip(chosen, counts, strict=True):
                print(f"  {name:<42} {count:10.1f}")
                if not name.startswith("  "):
                    totals[kind] += count
        print(f"delivery_instructions={totals['delivery']:.1f} campaign_instructions={totals['campaign']:.1f}")


def _prepare(data_dir: Path, count: int, kinds: list[str]) -> dict[str, list[str]]:
    """Make the batches in the data directory (ids in ``batches.json``); the steps of each kind."""
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections

    from bench.steps import _campaign_batch, _transactional_batch, steps_of

    call_command("migrate", verbosity=0)
    batches = {kind: (_transactional_batch(count) if kind == "delivery" else _campaign_batch(count)) for kind in kinds}
    (data_dir / "batches.json").write_text(json.dumps(batches))
    names = {kind: list(steps_of(ids)[1]) for kind, ids in batches.items()}
    connections.close_all()
    return names


def _instructions(valgrind: str, data_dir: Path, kind: str, step: str, runs: int) -> int:
    command = [
        valgrind, "--tool=callgrind", "--callgrind-out-file=/dev/null",
        sys.executable, "-m", "bench.instructions", "--child", str(data_dir), kind, step, str(runs),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=False, env=os.environ.copy())
    found = _COLLECTED.search(done.stderr)
    if done.returncode != 0 or found is None:
        sys.exit(f"counting {kind} / {step.strip()} failed:\n{done.stderr[-3000:]}")
    return int(found.group(1))


def _child(data_dir: str, kind: str, step: str, runs: str) -> None:
    """Under valgrind: start up as the parent did, warm the step once, then run it ``runs`` times."""
    import django

    os.environ["OPENESP_DATA_DIR"] = data_dir  # the parent's scratch site, already migrated
    django.setup()
    from bench.steps import steps_of

    ids = json.loads((Path(data_dir) / "batches.json").read_text())[kind]
    run = steps_of(ids)[1][step]
    run()  # warm: caches, compiled templates, parsed keys — as bench.steps does
    for _ in range(int(runs)):
        run()


if __name__ == "__main__":
    main()
