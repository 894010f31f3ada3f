"""Archives from the network: download resumably and with retries, verify, extract safely. The stages fetch their
annotations and pre-estimated poses with it (`fetch_tree`); `python -m pipeline.download` fetches the official
PHOENIX-2014-T release with it.

An archive is downloaded to `<dest>/<name>.part` and renamed when complete; an interrupted download resumes with
an HTTP Range request. Requests carry a browser-like User-Agent (`USER_AGENT`; a profile's `download_user_agent`
replaces it): the host of the pre-estimated poses and annotations answers Python's default one with HTTP 403 (a bot
challenge), as the original pipeline found. Transient failures (HTTP 5xx, 429, 403, a refused or reset connection,
a cut transfer) are retried inside the job, up to `ATTEMPTS` times with growing waits, each attempt resuming
where the last one stopped; the log shows the User-Agent and every retry. With --sha256 the file is verified before
extraction (a mismatch keeps nothing). Extraction uses tarfile's `data` filter: absolute paths, `..`, links
pointing outside and device files are refused (zip members are checked the same way).

`fetch_tree` is what the stages use for pre-estimated poses and annotations: download once, record the archive's
sha256 on first download and verify it on every later use, extract into a staging folder that becomes the tree
only when complete (an interrupted or failed extraction is never taken as done), one process at a time (a lock).
"""

from __future__ import annotations

import fcntl
import hashlib
import http.client
import json
import shutil
import tarfile
import time
import urllib.error
import urllib.request
import zipfile
import zlib
from pathlib import Path

from pipeline.errors import UserError

CHUNK = 1 << 20
USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"
ATTEMPTS = 5  # the original pipeline's preprocess.sh makes five attempts too
RETRY_WAIT = 15.0  # seconds before the 2nd attempt; doubled before each later one (15, 30, 60, 120)
RETRIED_HTTP = {403, 408, 425, 429}  # 403: the host's bot challenge may pass on a later attempt


class Transient(Exception):
    """A failure worth another attempt: the message says what happened."""


def download(
    url: str,
    target: Path,
    progress_every: float = 10.0,
    user_agent: str | None = None,
    attempts: int = ATTEMPTS,
    retry_wait: float = RETRY_WAIT,
) -> Path:
    """Download `url` to `target`, resuming `<target>.part` if present, retrying transient failures. Returns
    target."""
    agent = user_agent or USER_AGENT
    print(f"User-Agent: {agent}; up to {attempts} attempt(s)", flush=True)
    for attempt in range(1, attempts + 1):
        try:
            return _download_once(url, target, progress_every, agent)
        except Transient as exc:
            if attempt == attempts:
                raise UserError(
                    f"{url}: {exc}, after {attempts} attempt(s) with User-Agent {agent!r}; check the URL "
                    f"in a browser, or set download_user_agent in your cluster profile; rerunning "
                    f"resumes from what was downloaded"
                ) from None
            wait = retry_wait * 2 ** (attempt - 1)
            print(f"attempt {attempt}/{attempts} failed: {exc}; retrying in {wait:g} s", flush=True)
            time.sleep(wait)
    raise AssertionError("unreachable")


def _download_once(url: str, target: Path, progress_every: float, agent: str) -> Path:
    part = target.with_name(target.name + ".part")
    target.parent.mkdir(parents=True, exist_ok=True)
    have = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": agent, **({"Range": f"bytes={have}-"} if have else {})}
    request = urllib.request.Request(url, headers=headers)
    try:
        response = urllib.request.urlopen(request, timeout=60)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # range not satisfiable: the part file is already complete
            part.rename(target)
            return target
        if exc.code in RETRIED_HTTP or exc.code >= 500:
            raise Transient(f"HTTP {exc.code} {exc.reason}") from None
        raise UserError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        raise Transient(f"cannot connect ({getattr(exc, 'reason', exc)})") from None
    with response:
        resumed = response.status == 206
        if have and not resumed:
            have = 0  # the server ignored Range: start over
        total = response.headers.get("Content-Length")
        total = int(total) + have if total else None
        print(
            f"{'resuming' if resumed else 'downloading'} {url} -> {target}"
            + (f" at {have / 1e6:.1f} MB" if resumed else ""),
            flush=True,
        )
        started, last, done = time.monotonic(), time.monotonic(), have
        with open(part, "ab" if resumed else "wb") as handle:
            while True:
                try:
                    chunk = response.read(CHUNK)
                except (OSError, http.client.HTTPException) as exc:
                    raise Transient(f"interrupted after {done / 1e6:.1f} MB ({exc})") from None
                if not chunk:
                    break
                handle.write(chunk)
                done += len(chunk)
                now = time.monotonic()
                if now - last >= progress_every:
                    rate = (done - have) / (now - started)
                    eta = f", ETA {(total - done) / rate / 60:.0f} min" if total and rate else ""
                    print(
                        f"  {done / 1e6:.0f}/{total / 1e6 if total else 0:.0f} MB, {rate / 1e6:.1f} MB/s{eta}",
                        flush=True,
                    )
                    last = now
    if total is not None and done < total:
        raise Transient(f"interrupted after {done / 1e6:.1f} MB (got {done} of {total} bytes)")
    part.rename(target)
    return target


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def extract(archive: Path, dest: Path) -> None:
    """Extract a tar (tarfile's `data` filter: refuses absolute paths, `..`, outside links, devices) or a zip
    (the same refusals, checked member by member before anything is written)."""
    dest.mkdir(parents=True, exist_ok=True)
    if archive.name.endswith(".zip"):
        return extract_zip(archive, dest)
    if not hasattr(tarfile, "data_filter"):
        raise UserError("this Python lacks tarfile's data filter (Python >= 3.10.12 / 3.11.4 has it); upgrade")
    try:
        with tarfile.open(archive) as tar:
            tar.extractall(dest, filter="data")
    except tarfile.FilterError as exc:
        raise UserError(
            f"{archive}: refusing to extract an unsafe member ({exc}); the archive is not what it should be"
        ) from None
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise UserError(f"{archive}: not a readable tar archive, truncated or damaged ({exc})") from None


def extract_zip(archive: Path, dest: Path) -> None:
    try:
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                parts = Path(info.filename).parts
                is_link = (info.external_attr >> 16) & 0o170000 == 0o120000
                if info.filename.startswith(("/", "\\")) or ".." in parts or ":" in info.filename or is_link:
                    raise UserError(
                        f"{archive}: refusing to extract the unsafe member {info.filename!r} "
                        f"(absolute, '..', or a link); the archive is not what it should be"
                    )
            zf.extractall(dest)
    except (zipfile.BadZipFile, EOFError, zlib.error, OSError) as exc:
        raise UserError(f"{archive}: not a readable zip archive, truncated or damaged ({exc})") from None


def normalise_splits(tree: Path) -> None:
    """An extracted pose archive → `tree/{train,validation,test}/`: content under one top-level folder moves up,
    and `dev/` (the mediapipe archive's name) becomes `validation/`."""
    entries = [p for p in tree.iterdir() if not p.name.startswith(".")]
    if not (tree / "train").is_dir() and len(entries) == 1 and entries[0].is_dir():
        inner = entries[0]
        for item in list(inner.iterdir()):
            item.rename(tree / item.name)
        inner.rmdir()
    if (tree / "dev").is_dir() and not (tree / "validation").exists():
        (tree / "dev").rename(tree / "validation")


def fetch_tree(
    url: str, dest: Path, expected_sha256: str | None = None, normalise=None, download_settings: dict | None = None
) -> Path:
    """`dest/tree`: the archive at `url` downloaded into `dest` (once, resumably) and extracted.

    The archive's sha256 is `expected_sha256` when given, else recorded at first download in `<archive>.sha256`;
    every call verifies the archive against it. Extraction goes to `dest/tree.partial` and is renamed to `dest/tree`
    only when complete (and `normalise(tree)` has run); a failure removes the partial folder and a damaged archive.
    `download_settings`: `download`'s user_agent / attempts / retry_wait (the profile's, see plan.download_settings).
    """
    dest.mkdir(parents=True, exist_ok=True)
    archive = dest / url.rstrip("/").rsplit("/", 1)[-1]
    tree, record = dest / "tree", archive.with_name(archive.name + ".sha256")
    with open(dest / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one download/extraction at a time; the others wait, then reuse
        if not archive.exists():
            if tree.is_dir() and (dest / "tree.json").exists():
                print(f"using {tree} (its archive was removed, so it cannot be re-verified)", flush=True)
                return tree
            download(url, archive, **(download_settings or {}))
        digest = sha256(archive)
        expected = (expected_sha256 or "").lower() or (record.read_text().split()[0] if record.exists() else "")
        if expected and digest != expected:
            archive.unlink()
            (dest / "tree.json").unlink(missing_ok=True)  # what was extracted from it is not trusted either
            raise UserError(
                f"{archive}: sha256 {digest} does not match {expected} "
                f"({'estimate.sha256' if expected_sha256 else f'recorded in {record} at first download'});"
                f" removed the archive; rerun to download it again"
            )
        if not record.exists():
            record.write_text(f"{digest}  {archive.name}\n")
            print(f"recorded sha256 {digest} of {archive} in {record}", flush=True)
        else:
            print(f"verified sha256 of {archive}", flush=True)
        if tree.is_dir() and (dest / "tree.json").exists():
            return tree
        partial = dest / "tree.partial"
        shutil.rmtree(partial, ignore_errors=True)
        print(f"extracting {archive} into {tree}", flush=True)
        try:
            extract(archive, partial)
            if normalise:
                normalise(partial)
        except UserError as exc:
            shutil.rmtree(partial, ignore_errors=True)
            archive.unlink()
            record.unlink(missing_ok=True)
            raise UserError(
                f"{exc}; removed it and its checksum record, nothing was extracted: rerun to download it again"
            ) from None
        shutil.rmtree(tree, ignore_errors=True)
        partial.rename(tree)
        (dest / "tree.json").write_text(json.dumps({"url": url, "sha256": digest}) + "\n")
        return tree
