import sys

from .watch import main

sys.exit(main())
