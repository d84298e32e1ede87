"""``python -m observatoire`` : la même commande que ``observatoire``."""

import sys

from .cli import main

sys.exit(main())
