"""``python -m cxr_core`` is the ``covid-cxr`` command (:func:`cxr_core.cli.main.main`)."""

import sys

from cxr_core.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
