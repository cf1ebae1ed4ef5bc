"""``python -m microstar_sim``: see ``scripts/simulator --help``."""

from .cli import main

raise SystemExit(main())
