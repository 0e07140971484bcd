from __future__ import annotations

import pytest

from supertest.artifacts import ArtifactNotFound, ByteRange, report_prefix


def test_upload_dir_list_and_read(store, tmp_path):
    report = tmp_path / "report"
    (report / "data").mkdir(parents=True)
    (report / "index.html").write_text("<html>report</html>")
    (report / "data" / "video.webm").write_bytes(bytes(range(256)) * 4)
    assert store.upload_dir(report_prefix("tr-art1"), report) == 2
    keys = sorted(info.key for info in store.list("runs/tr-art1/"))
    assert keys == ["runs/tr-art1/report/data/video.webm", "runs/tr-art1/report/index.html"]
    assert store.read_bytes("runs/tr-art1/report/index.html") == b"<html>report</html>"
    assert store.stat("runs/tr-art1/report/data/video.webm").size == 1024


def test_range_reads(store):
    store.put_bytes("runs/tr-art2/report/v.webm", bytes(range(100)))
    assert b"".join(store.open_range("runs/tr-art2/report/v.webm", ByteRange(10, 19))) == bytes(range(10, 20))


def test_missing_object(store):
    with pytest.raises(ArtifactNotFound):
        store.stat("runs/tr-none/report/index.html")
    with pytest.raises(ArtifactNotFound):
        b"".join(store.open_range("runs/tr-none/report/index.html"))


def test_delete_prefix_in_batches(store):
    for i in range(7):
        store.put_bytes(f"runs/tr-art3/report/f{i}.txt", b"x")
    store.put_bytes("runs/tr-keep/report/f.txt", b"x")
    assert store.delete_prefix("runs/tr-art3/", batch_size=3) == 7
    assert list(store.list("runs/tr-art3/")) == []
    assert [i.key for i in store.list("runs/tr-keep/")] == ["runs/tr-keep/report/f.txt"]


def test_first_write_creates_a_missing_bucket(s3_server, tmp_path):
    """Run pods upload through the API now; on a fresh S3 server nobody else creates the bucket first."""
    import uuid

    from supertest.artifacts.s3 import S3ArtifactStore

    fresh = S3ArtifactStore(
        bucket=f"fresh-{uuid.uuid4().hex[:12]}",
        endpoint_url=s3_server.endpoint,
        region=s3_server.region,
        access_key=s3_server.access_key,
        secret_key=s3_server.secret_key,
    )
    report = tmp_path / "index.html"
    report.write_text("<html>report</html>")
    fresh.put_file("runs/r1/report/index.html", report)
    fresh.put_bytes("runs/r1/results.json", b"{}")
    assert fresh.read_bytes("runs/r1/report/index.html") == b"<html>report</html>"
    assert fresh.read_bytes("runs/r1/results.json") == b"{}"
