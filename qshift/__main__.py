"""``python -m qshift``: the command line (:mod:`qshift.cli`)."""

import sys

from qshift.cli import main

sys.exit(main())
