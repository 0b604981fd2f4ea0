"""LOCAL CLUSTER EMULATOR: what the `ghcr.io/oras-project/oras` image runs here.

`python -m ci_plugins_emulator.orascli pull REF --output DIR [--plain-http]
[--registry-config FILE]` pulls an OCI artifact with the `oras` Python SDK, unpacking
directory layers as the oras CLI does; a missing manifest (a wrong digest) exits 1 with
oras' error on stderr, as the real CLI does.
"""

from __future__ import annotations

import argparse
import logging
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="oras")
    commands = parser.add_subparsers(dest="command", required=True)
    pull = commands.add_parser("pull")
    pull.add_argument("reference")
    pull.add_argument("-o", "--output", default=".")
    pull.add_argument("--plain-http", action="store_true")
    pull.add_argument("--registry-config")
    args = parser.parse_args(argv)
    import oras.client

    logging.getLogger("oras").setLevel(logging.ERROR)
    client = oras.client.OrasClient(insecure=args.plain_http)
    print(f"Downloading {args.reference}", flush=True)
    try:
        files = client.pull(
            target=args.reference, outdir=args.output, config_path=args.registry_config
        )
    except Exception as exc:  # oras raises ValueError, requests errors and its own
        print(f"Error: failed to pull {args.reference}: {exc}", file=sys.stderr, flush=True)
        return 1
    for name in files:
        print(f"Downloaded {name}", flush=True)
    print(f"Pulled {args.reference}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
