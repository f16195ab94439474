"""Run the command line as ``python -m akresponder``."""

import sys

from akresponder.cli import main

sys.exit(main())
