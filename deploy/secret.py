"""The per-install secret: ``.hall/secret`` (directory 0700, file 0600), generated on first use.

``./hall up``, ``test`` and ``bench`` run ``python -m deploy.secret HOME`` when ``HALL_SECRET`` is unset and export
what it prints to every process they start. A file that is missing is created with 48 random bytes (URL-safe
base64); one that exists is read back (and its modes tightened); one that holds a weak secret is refused.
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

from shared.secrets import WeakSecretError, check_secret

FILE_NAME = "secret"


def ensure_secret(home: Path) -> str:
    home.mkdir(parents=True, exist_ok=True)
    home.chmod(0o700)
    path = home / FILE_NAME
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(48) + "\n")
    path.chmod(0o600)
    secret = path.read_text().strip()
    check_secret(secret, f"HALL_SECRET (from {path})")
    return secret


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    home = Path(args[0]) if args else Path(__file__).resolve().parents[1] / ".hall"
    try:
        print(ensure_secret(home))  # noqa: T201 (the hall script reads it)
    except (WeakSecretError, OSError) as exc:
        print(f"hall: {exc}", file=sys.stderr)  # noqa: T201
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
