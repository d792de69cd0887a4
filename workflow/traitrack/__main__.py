import sys

from traitrack.cli import main

sys.exit(main())
