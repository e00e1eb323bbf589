"""``python -m paper`` is ``python -m paper.make_tables``."""
import sys

from .make_tables import main

sys.exit(main())
