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
