import sys

from chatgateway.cli.main import main

sys.exit(main())
