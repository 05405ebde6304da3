import sys

from chatcli.main import main

sys.exit(main())
