import sys

from socklab.cli.main import main

sys.exit(main())
