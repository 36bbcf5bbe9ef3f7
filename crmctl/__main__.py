"""`python -m crmctl ...`, the same as the `crmctl` console script."""

import sys

from crmctl.cli import main

if __name__ == "__main__":
    sys.exit(main())
