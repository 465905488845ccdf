"""``python -m nblib ...`` is ``nblib ...`` (see nblib.cli)."""
from nblib.cli import main

raise SystemExit(main())
