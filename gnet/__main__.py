"""``python -m gnet``: the same as the ``gnet`` command."""

import sys

from gnet.cli import main

sys.exit(main())
