"""`python -m ci_plugins_emulator.tfserving [tensorflow_model_server flags]`."""

import sys

from .server import run

if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
