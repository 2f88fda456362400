import sys

from .proxy import main

sys.exit(main(sys.argv[1:]))
