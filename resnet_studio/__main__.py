"""`python -m resnet_studio` is the same as `resnet-studio`."""

import sys

from resnet_studio.cli import main

sys.exit(main())
