"""`python -m pipeline.download`: fetch the official PHOENIX-2014-T archive, resumably, verify it, extract it safely.

    python -m pipeline.download --dest data/datasets [--sha256 HEX]      # the official release (~40 GB)
    python -m pipeline.download --url URL --dest DIR --sha256 HEX         # any .tar/.tar.gz/.zip archive

Resumable (rerun after an interruption), retried on transient failures, checked against --sha256 before anything is
extracted, extracted safely (see pipeline/archives.py). Then point a run at it:
`--set dataset.root=<dest>/PHOENIX-2014-T-release-v3/PHOENIX-2014-T`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pipeline.archives import download, extract, sha256
from pipeline.errors import UserError, run_cli

OFFICIAL_URL = "https://www-i6.informatik.rwth-aachen.de/ftp/pub/rwth-phoenix/2016/phoenix-2014-T.v3.tar.gz"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.download",
        description=__doc__.split("\n\n")[0].split(": ", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--url", default=OFFICIAL_URL, help="archive URL (default: the official PHOENIX-2014-T v3)")
    parser.add_argument("--dest", type=Path, default=Path("data/datasets"), help="where to download and extract")
    parser.add_argument("--sha256", help="expected checksum; strongly recommended")
    parser.add_argument("--keep-archive", action="store_true", help="keep the archive after extraction")
    args = parser.parse_args(argv)
    archive = args.dest / args.url.rstrip("/").rsplit("/", 1)[-1]
    if not archive.exists():
        download(args.url, archive)
    digest = sha256(archive)
    if args.sha256 and digest != args.sha256.lower():
        archive.unlink()
        raise UserError(
            f"{archive}: sha256 {digest} does not match the expected {args.sha256}; removed it, rerun to download again"
        )
    if not args.sha256:
        print(f"warning: no --sha256 given; this archive's is {digest}", file=sys.stderr)
    print(f"extracting {archive} into {args.dest}", flush=True)
    extract(archive, args.dest)
    if not args.keep_archive:
        archive.unlink()
    print(f"done: {args.dest}")
    return 0


if __name__ == "__main__":
    run_cli(main)
