"""`python -m resnet_studio` is the same as `resnet-studio`."""

import sys

from resnet_studio.cli import main

# The guard matters: a training process (spawn) re-imports this module as
# "__mp_main__", which must not start a second CLI or window.
if __name__ == "__main__":
    sys.exit(main())
