"""``python -m tests.contracts [--update | --check | --json]``: the wire contracts against their snapshot.

``--check`` (the default) prints every break of the additive rule and exits 1 if there is one; ``--update``
rewrites ``tests/contracts/snapshot.json`` from the code, on purpose, after a reviewed change (a new tag version
with its upcaster, a struct that moved); ``--json`` prints the contracts the code has now.
"""

from __future__ import annotations

import argparse
import json
import sys

from shared.upcast import UPCASTERS
from tests.contracts import SNAPSHOT, breaks, collect, load, taken_from, write


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.contracts", description=__doc__)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--update", action="store_true", help="rewrite the snapshot from the code")
    mode.add_argument("--check", action="store_true", help="compare the code with the snapshot (the default)")
    mode.add_argument("--json", action="store_true", help="print the contracts of the code")
    args = parser.parse_args(argv)
    contracts = collect()
    if args.json:
        json.dump(contracts, sys.stdout, ensure_ascii=False, indent=1)
        return 0
    if args.update:
        source = write(contracts)
        print(f"{SNAPSHOT}: {len(contracts)} structs of {source}")  # noqa: T201
        return 0
    problems = breaks(load(), contracts, set(UPCASTERS))
    for problem in problems:
        print(problem)  # noqa: T201
    print(f"{len(contracts)} structs, {len(problems)} breaks since the snapshot of {taken_from()}")  # noqa: T201
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
