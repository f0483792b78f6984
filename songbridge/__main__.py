import sys

from songbridge.cli import main

sys.exit(main())
