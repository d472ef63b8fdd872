"""``python -m bench`` (``make bench``): the end-to-end benchmark; see ``bench.e2e``."""

from __future__ import annotations

from bench.e2e import main

if __name__ == "__main__":
    raise SystemExit(main())
