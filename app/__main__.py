"""`python -m app …`: the service's command line (see `app.cli`)."""

import sys

from app.cli import main

sys.exit(main())
