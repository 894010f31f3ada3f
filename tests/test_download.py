"""The archive download: resumes after an interruption, verifies the checksum, refuses unsafe archives.
Served by a server on loopback that the test starts; no other network."""

import hashlib
import io
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from pipeline.archives import USER_AGENT, download, extract, fetch_tree, normalise_splits
from pipeline.errors import UserError

from conftest import tar_gz_bytes

PROJECT = Path(__file__).resolve().parent.parent


@pytest.fixture
def server(http_files):
    """The loopback file server with one archive at /archive.tar.gz."""
    state, base = http_files
    yield state, f"{base}/archive.tar.gz"


def test_interrupted_download_resumes_and_the_result_is_verified_and_extracted(tmp_path, server):
    state, url = server
    body = tar_gz_bytes(
        {
            "PHOENIX-2014-T/annotations/manual/x.csv": b"a|b\n" * 5000,
            "PHOENIX-2014-T/features/f.png": bytes(range(256)) * 400,
        }
    )
    state["files"]["/archive.tar.gz"] = body
    state["cut"]["/archive.tar.gz"] = len(body) // 2
    target = tmp_path / "archive.tar.gz"
    with pytest.raises(UserError, match="interrupted after .* after 1 attempt.*rerunning resumes"):
        download(url, target, attempts=1)
    assert not target.exists() and (tmp_path / "archive.tar.gz.part").stat().st_size == len(body) // 2
    digest = hashlib.sha256(body).hexdigest()
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline.download", "--url", url, "--dest", str(tmp_path), "--sha256", digest],
        capture_output=True,
        text=True,
        cwd=PROJECT,
    )
    assert proc.returncode == 0, proc.stderr
    assert state["ranges"] == [("/archive.tar.gz", len(body) // 2)]  # resumed, not restarted
    assert (tmp_path / "PHOENIX-2014-T/annotations/manual/x.csv").read_bytes() == b"a|b\n" * 5000
    assert not target.exists()  # archive removed after extraction


def test_a_host_that_refuses_pythons_user_agent_serves_ours_and_a_profiles(tmp_path, server, capsys):
    import urllib.error
    import urllib.request

    state, url = server
    state["files"]["/archive.tar.gz"] = b"payload"
    state["refuse_python"] = True
    with pytest.raises(urllib.error.HTTPError, match="403"):  # the host really refuses urllib's default
        urllib.request.urlopen(url, timeout=10)
    assert download(url, tmp_path / "a.tar.gz", retry_wait=0).read_bytes() == b"payload"
    assert download(url, tmp_path / "b.tar.gz", user_agent="our-lab-fetcher/1.0", retry_wait=0).exists()
    assert state["agents"][1:] == [USER_AGENT, "our-lab-fetcher/1.0"]
    out = capsys.readouterr().out
    assert f"User-Agent: {USER_AGENT}; up to 5 attempt(s)" in out and "User-Agent: our-lab-fetcher/1.0" in out


def test_transient_failures_are_retried_in_the_same_job_and_said_in_the_log(tmp_path, server, capsys):
    state, url = server
    state["files"]["/archive.tar.gz"] = b"payload"
    state["fail"]["/archive.tar.gz"] = [500, 503]  # fails twice, then serves
    assert download(url, tmp_path / "a.tar.gz", retry_wait=0).read_bytes() == b"payload"
    assert state["gets"] == ["/archive.tar.gz"] * 3
    out = capsys.readouterr().out
    assert "attempt 1/5 failed: HTTP 500" in out and "attempt 2/5 failed: HTTP 503" in out


def test_the_last_failure_names_the_url_the_status_and_what_to_do(tmp_path, server):
    state, url = server
    state["fail"]["/archive.tar.gz"] = [503] * 3
    with pytest.raises(UserError) as caught:
        download(url, tmp_path / "a.tar.gz", attempts=3, retry_wait=0)
    assert str(caught.value).startswith(f"{url}: HTTP 503 Service Unavailable, after 3 attempt(s) with User-Agent")
    assert "download_user_agent" in str(caught.value)
    state["fail"]["/archive.tar.gz"] = []
    with pytest.raises(UserError, match=r"HTTP 404 Not Found$"):  # not transient: one request, no retry
        download(f"{url}.missing", tmp_path / "b.tar.gz", retry_wait=0)
    assert state["gets"].count("/archive.tar.gz.missing") == 1


def test_checksum_mismatch_keeps_nothing(tmp_path, server):
    state, url = server
    state["files"]["/archive.tar.gz"] = tar_gz_bytes({"a.txt": b"hello"})
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline.download", "--url", url, "--dest", str(tmp_path), "--sha256", "0" * 64],
        capture_output=True,
        text=True,
        cwd=PROJECT,
    )
    assert proc.returncode == 2 and "does not match the expected" in proc.stderr
    assert not list(tmp_path.iterdir())


def test_members_escaping_the_destination_are_refused(tmp_path):
    archive = tmp_path / "evil.tar.gz"
    archive.write_bytes(tar_gz_bytes({"ok.txt": b"ok", "../escape.txt": b"bad"}))
    with pytest.raises(UserError, match="refusing to extract an unsafe member"):
        extract(archive, tmp_path / "out")
    assert not (tmp_path / "escape.txt").exists()


def test_absolute_members_land_inside_the_destination(tmp_path):
    archive = tmp_path / "abs.tar.gz"
    archive.write_bytes(tar_gz_bytes({str(tmp_path / "outside.txt"): b"x"}))
    extract(archive, tmp_path / "out")
    assert not (tmp_path / "outside.txt").exists()
    assert (tmp_path / "out" / str(tmp_path / "outside.txt").lstrip("/")).read_bytes() == b"x"


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def test_zip_members_escaping_the_destination_are_refused_before_anything_is_written(tmp_path):
    archive = tmp_path / "evil.zip"
    archive.write_bytes(zip_bytes({"ok.txt": b"ok", "../escape.txt": b"bad"}))
    with pytest.raises(UserError, match="refusing to extract the unsafe member '../escape.txt'"):
        extract(archive, tmp_path / "out")
    assert not (tmp_path / "escape.txt").exists() and not (tmp_path / "out" / "ok.txt").exists()


def test_fetch_tree_records_the_checksum_then_verifies_it_and_a_changed_archive_is_refused(tmp_path, http_files):
    state, base = http_files
    state["files"]["/p.zip"] = zip_bytes({"phoenix/train/a.pose": b"1", "phoenix/dev/b.pose": b"2"})
    tree = fetch_tree(f"{base}/p.zip", tmp_path / "dl", normalise=normalise_splits)
    assert sorted(p.relative_to(tree).as_posix() for p in tree.rglob("*.pose")) == ["train/a.pose", "validation/b.pose"]
    record = tmp_path / "dl" / "p.zip.sha256"
    assert record.read_text().split()[0] == hashlib.sha256(state["files"]["/p.zip"]).hexdigest()
    assert fetch_tree(f"{base}/p.zip", tmp_path / "dl") == tree and state["gets"] == ["/p.zip"]  # reused
    (tmp_path / "dl" / "p.zip").write_bytes(b"changed on disk")
    with pytest.raises(UserError, match="does not match .*recorded in .*at first download"):
        fetch_tree(f"{base}/p.zip", tmp_path / "dl")
    assert not (tmp_path / "dl" / "p.zip").exists() and not (tmp_path / "dl" / "tree.json").exists()


def test_a_truncated_archive_is_removed_and_nothing_half_extracted_counts_as_done(tmp_path, http_files):
    state, base = http_files
    whole = zip_bytes({f"phoenix/train/{i}.pose": bytes(1000) for i in range(20)})
    state["files"]["/p.zip"] = whole[: len(whole) * 2 // 3]  # served complete, but the file is cut
    with pytest.raises(UserError, match=r"p.zip: not a readable zip archive.*nothing was extracted: rerun"):
        fetch_tree(f"{base}/p.zip", tmp_path / "dl", normalise=normalise_splits)
    assert sorted(p.name for p in (tmp_path / "dl").iterdir()) == [".lock"]
    state["files"]["/p.zip"] = whole  # fixed upstream: the rerun downloads again
    tree = fetch_tree(f"{base}/p.zip", tmp_path / "dl", normalise=normalise_splits)
    assert len(list((tree / "train").glob("*.pose"))) == 20


def test_a_missing_archive_is_one_line_with_the_url(tmp_path, http_files):
    _, base = http_files
    with pytest.raises(UserError, match=rf"^{base}/nope.zip: HTTP 404 Not Found$"):
        fetch_tree(f"{base}/nope.zip", tmp_path / "dl")
