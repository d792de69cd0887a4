"""``python -m traitrack``: the same as the ``traitrack`` command."""

import sys

from traitrack.cli import main

sys.exit(main())
