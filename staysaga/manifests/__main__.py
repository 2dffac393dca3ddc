"""`python -m staysaga.manifests [DIR]`: regenerate the committed manifests."""

import sys

from staysaga.manifests import main

main(sys.argv)
