"""`python -m pipeline.download`: fetch the official PHOENIX-2014-T archive, resumably, verify it, extract it safely.

    python -m pipeline.download --dest data/datasets [--sha256 HEX]      # the official release (~40 GB)
    python -m pipeline.download --url URL --dest DIR --sha256 HEX         # any .tar/.tar.gz archive

The archive is downloaded to `<dest>/<name>.part` and renamed when complete; an interrupted download resumes with
an HTTP Range request. With --sha256 the file is verified before extraction (a mismatch keeps nothing). Extraction
uses tarfile's `data` filter: absolute paths, `..`, links pointing outside and device files are refused. Then point
a run at it: `--set dataset.root=<dest>/PHOENIX-2014-T-release-v3/PHOENIX-2014-T`.
"""
from __future__ import annotations

import argparse
import hashlib
import http.client
import sys
import tarfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from pipeline.errors import UserError, run_cli

OFFICIAL_URL = "https://www-i6.informatik.rwth-aachen.de/ftp/pub/rwth-phoenix/2016/phoenix-2014-T.v3.tar.gz"
CHUNK = 1 << 20


def download(url: str, target: Path, progress_every: float = 10.0) -> Path:
    """Download `url` to `target`, resuming `<target>.part` if present. Returns target."""
    part = target.with_name(target.name + ".part")
    target.parent.mkdir(parents=True, exist_ok=True)
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        response = urllib.request.urlopen(request, timeout=60)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:          # range not satisfiable: the part file is already complete
            part.rename(target)
            return target
        raise UserError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        raise UserError(f"{url}: cannot connect ({exc.reason}); rerun to resume") from None
    with response:
        resumed = response.status == 206
        if have and not resumed:
            have = 0                          # the server ignored Range: start over
        total = response.headers.get("Content-Length")
        total = int(total) + have if total else None
        print(f"{'resuming' if resumed else 'downloading'} {url} -> {target}"
              + (f" at {have / 1e6:.1f} MB" if resumed else ""), flush=True)
        started, last, done = time.monotonic(), time.monotonic(), have
        with open(part, "ab" if resumed else "wb") as handle:
            while True:
                try:
                    chunk = response.read(CHUNK)
                except (OSError, http.client.HTTPException) as exc:
                    raise UserError(f"{url}: download interrupted after {done / 1e6:.1f} MB ({exc}); "
                                    f"rerun the same command to resume") from None
                if not chunk:
                    break
                handle.write(chunk)
                done += len(chunk)
                now = time.monotonic()
                if now - last >= progress_every:
                    rate = (done - have) / (now - started)
                    eta = f", ETA {(total - done) / rate / 60:.0f} min" if total and rate else ""
                    print(f"  {done / 1e6:.0f}/{total / 1e6 if total else 0:.0f} MB, {rate / 1e6:.1f} MB/s{eta}",
                          flush=True)
                    last = now
    if total is not None and done < total:
        raise UserError(f"{url}: got {done} of {total} bytes; rerun the same command to resume")
    part.rename(target)
    return target


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def extract(archive: Path, dest: Path) -> None:
    """Extract with tarfile's `data` filter (refuses absolute paths, `..`, outside links, devices)."""
    if not hasattr(tarfile, "data_filter"):
        raise UserError("this Python lacks tarfile's data filter (Python >= 3.10.12 / 3.11.4 has it); upgrade")
    dest.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(archive) as tar:
            tar.extractall(dest, filter="data")
    except tarfile.FilterError as exc:
        raise UserError(f"{archive}: refusing to extract an unsafe member ({exc}); the archive is not what it "
                        f"should be") from None
    except tarfile.TarError as exc:
        raise UserError(f"{archive}: not a readable tar archive ({exc})") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.download", description=__doc__.split("\n\n")[0]
                                     .split(": ", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter)
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
        raise UserError(f"{archive}: sha256 {digest} does not match the expected {args.sha256}; removed it, "
                        f"rerun to download again")
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
