"""``python -m replication`` is ``python -m replication.run_all``."""
import sys

from .run_all import main

sys.exit(main())
