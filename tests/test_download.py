"""The archive download: resumes after an interruption, verifies the checksum, refuses unsafe archives.
Served by a server on loopback that the test starts; no other network."""
import hashlib
import io
import subprocess
import sys
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from pipeline.download import download, extract
from pipeline.errors import UserError

PROJECT = Path(__file__).resolve().parent.parent


def tar_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.fixture
def server():
    """Serves `state["body"]` at /archive.tar.gz with Range support; `state["cut"]` makes the next plain GET
    send only that many bytes of the body and hang up."""
    state = {"body": b"", "cut": None, "ranges": []}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            body, start = state["body"], 0
            header = self.headers.get("Range")
            if header:
                start = int(header.split("=")[1].split("-")[0])
                state["ranges"].append(start)
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
            else:
                self.send_response(200)
            self.send_header("Content-Length", str(len(body) - start))
            self.end_headers()
            if state["cut"] is not None and not header:
                self.wfile.write(body[: state["cut"]])
                state["cut"] = None
                self.wfile.flush()
                self.connection.shutdown(2)
                return
            self.wfile.write(body[start:])

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield state, f"http://127.0.0.1:{httpd.server_address[1]}/archive.tar.gz"
    httpd.shutdown()


def test_interrupted_download_resumes_and_the_result_is_verified_and_extracted(tmp_path, server):
    state, url = server
    state["body"] = tar_bytes({"PHOENIX-2014-T/annotations/manual/x.csv": b"a|b\n" * 5000,
                               "PHOENIX-2014-T/features/f.png": bytes(range(256)) * 400})
    state["cut"] = len(state["body"]) // 2
    target = tmp_path / "archive.tar.gz"
    with pytest.raises(UserError, match="rerun the same command to resume"):
        download(url, target)
    assert not target.exists() and (tmp_path / "archive.tar.gz.part").stat().st_size == len(state["body"]) // 2
    digest = hashlib.sha256(state["body"]).hexdigest()
    proc = subprocess.run([sys.executable, "-m", "pipeline.download", "--url", url, "--dest", str(tmp_path),
                           "--sha256", digest], capture_output=True, text=True, cwd=PROJECT)
    assert proc.returncode == 0, proc.stderr
    assert state["ranges"] == [len(state["body"]) // 2]             # resumed, not restarted
    assert (tmp_path / "PHOENIX-2014-T/annotations/manual/x.csv").read_bytes() == b"a|b\n" * 5000
    assert not target.exists()                                        # archive removed after extraction


def test_checksum_mismatch_keeps_nothing(tmp_path, server):
    state, url = server
    state["body"] = tar_bytes({"a.txt": b"hello"})
    proc = subprocess.run([sys.executable, "-m", "pipeline.download", "--url", url, "--dest", str(tmp_path),
                           "--sha256", "0" * 64], capture_output=True, text=True, cwd=PROJECT)
    assert proc.returncode == 2 and "does not match the expected" in proc.stderr
    assert not list(tmp_path.iterdir())


def test_members_escaping_the_destination_are_refused(tmp_path):
    archive = tmp_path / "evil.tar.gz"
    archive.write_bytes(tar_bytes({"ok.txt": b"ok", "../escape.txt": b"bad"}))
    with pytest.raises(UserError, match="refusing to extract an unsafe member"):
        extract(archive, tmp_path / "out")
    assert not (tmp_path / "escape.txt").exists()


def test_absolute_members_land_inside_the_destination(tmp_path):
    archive = tmp_path / "abs.tar.gz"
    archive.write_bytes(tar_bytes({str(tmp_path / "outside.txt"): b"x"}))
    extract(archive, tmp_path / "out")
    assert not (tmp_path / "outside.txt").exists()
    assert (tmp_path / "out" / str(tmp_path / "outside.txt").lstrip("/")).read_bytes() == b"x"
