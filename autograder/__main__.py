"""``python -m autograder grade|references|release|demo``."""

import sys

from autograder.cli import main

sys.exit(main())
