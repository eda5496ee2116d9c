import sys

from qshift.cli import main

sys.exit(main())
