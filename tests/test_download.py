"""Downloads against a local fake server: verified, resumed, restarted, refused."""
import hashlib
import os
import socket

import numpy as np
import pytest

from course_utils.tools.download import (HDF5_SIGNATURE, DownloadError, RemoteFile, download,
                                   is_hdf5, remote_size, require_reachable)

from fake_http import FakeServer, without_proxies


@pytest.fixture(autouse=True)
def _direct(monkeypatch):
    without_proxies(monkeypatch)


SIZE = 3 * (1 << 20) + 12_345          # a little over three read chunks


@pytest.fixture()
def payload():
    return HDF5_SIGNATURE + np.random.default_rng(7).bytes(SIZE - len(HDF5_SIGNATURE))


@pytest.fixture()
def server(payload):
    with FakeServer() as fake:
        fake.add("/data/file.nwb", payload)
        yield fake


def _item(server, tmp_path, payload, **kw):
    digest = hashlib.blake2b(payload).hexdigest()
    return RemoteFile(f"{server.url}/data/file.nwb?versionId=v1", tmp_path / "cache" / "file.nwb",
                      **{"size": len(payload), "blake2b": digest, "hdf5": True, **kw})


def test_download_verifies_and_renames_into_place(server, tmp_path, payload):
    item = _item(server, tmp_path, payload)
    assert download(item, progress=False) == item.dest
    assert item.dest.read_bytes() == payload
    assert not item.part.exists()
    assert server.gets("/data/file.nwb")[0]["query"] == {"versionId": ["v1"]}
    download(item, progress=False)                     # in place: not downloaded again
    assert len(server.gets("/data/file.nwb")) == 1


def test_cut_transfer_keeps_the_part_and_the_next_run_resumes(server, tmp_path, payload):
    item = _item(server, tmp_path, payload)
    server.cut["/data/file.nwb"] = 1_000_000
    with pytest.raises(DownloadError, match="stopped at 1,000,000 of .* run the command again"):
        download(item, progress=False, attempts=1)
    assert item.part.stat().st_size == 1_000_000 and not item.dest.exists()
    download(item, progress=False)
    first, second = server.gets("/data/file.nwb")
    assert second["range"] == "bytes=1000000-"
    assert second["sent"] == len(payload) - 1_000_000     # only the rest moved
    assert item.dest.read_bytes() == payload


def test_an_interrupted_transfer_is_resumed_within_one_call(server, tmp_path, payload):
    item = _item(server, tmp_path, payload)
    server.cut["/data/file.nwb"] = 123_457
    download(item, progress=False, attempts=3)
    assert [g["range"] for g in server.gets("/data/file.nwb")] == [None, "bytes=123457-"]
    assert item.dest.read_bytes() == payload


def test_a_server_ignoring_range_restarts_cleanly(server, tmp_path, payload):
    item = _item(server, tmp_path, payload)
    item.dest.parent.mkdir(parents=True)
    item.part.write_bytes(b"x" * 500_000)             # not even the right bytes
    server.ignore_range = True
    download(item, progress=False)
    assert server.gets("/data/file.nwb")[0]["range"] == "bytes=500000-"
    assert item.dest.read_bytes() == payload           # not 500,000 bytes + the whole file


def test_a_complete_part_is_verified_without_downloading_again(server, tmp_path, payload):
    item = _item(server, tmp_path, payload, size=None)  # size unknown: the server says 416
    item.dest.parent.mkdir(parents=True)
    item.part.write_bytes(payload)
    download(item, progress=False)
    assert [g["sent"] for g in server.gets("/data/file.nwb")] == [0]
    assert item.dest.read_bytes() == payload


def test_corrupted_file_fails_verification_and_leaves_nothing(server, tmp_path, payload):
    bad = bytearray(payload)
    bad[SIZE // 2] ^= 0xFF                             # one flipped byte, same size
    server.add("/data/file.nwb", bytes(bad))
    item = _item(server, tmp_path, payload)
    with pytest.raises(DownloadError, match="BLAKE2b hash differs.*deleted"):
        download(item, progress=False)
    assert not item.dest.exists() and not item.part.exists()


def test_a_file_that_is_not_hdf5_is_refused(server, tmp_path):
    server.add("/data/file.nwb", b"<html>maintenance page</html>")
    item = RemoteFile(f"{server.url}/data/file.nwb", tmp_path / "file.nwb", hdf5=True)
    with pytest.raises(DownloadError, match="not an HDF5"):
        download(item, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_a_size_other_than_the_release_is_not_downloaded(server, tmp_path, payload):
    item = _item(server, tmp_path, payload, size=len(payload) + 1)
    with pytest.raises(DownloadError, match="offers .* the release lists"):
        download(item, progress=False)
    assert not item.dest.exists()


def test_remote_size_with_and_without_head(server, payload):
    url = f"{server.url}/data/file.nwb"
    assert remote_size(url) == len(payload)
    server.allow_head = False                          # then a one-byte ranged GET
    assert remote_size(url) == len(payload)
    assert (server.log[-1]["method"], server.log[-1]["range"]) == ("GET", "bytes=0-0")


def test_http_errors_name_the_status(server, tmp_path):
    item = RemoteFile(f"{server.url}/data/missing.nwb", tmp_path / "missing.nwb")
    with pytest.raises(DownloadError, match="HTTP 404"):
        download(item, progress=False)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("host", ["127.0.0.1:{port}", "allen-course-test.invalid"])
def test_unreachable_host_fails_with_the_offline_message(host, tmp_path):
    url = f"http://{host.format(port=_closed_port())}/file.nwb"
    with pytest.raises(ConnectionError, match="offline sample needs no download"):
        require_reachable(url)
    with pytest.raises(ConnectionError, match="offline sample needs no download"):
        download(RemoteFile(url, tmp_path / "file.nwb"), progress=False)
    assert not (tmp_path / "file.nwb.part").exists()


def test_is_hdf5_finds_the_signature_at_512(tmp_path):
    path = tmp_path / "user_block.h5"
    path.write_bytes(b"\0" * 512 + HDF5_SIGNATURE + b"\0" * 100)
    assert is_hdf5(path)
    path.write_bytes(b"\0" * 300 + HDF5_SIGNATURE + b"\0" * 300)
    assert not is_hdf5(path)


def test_urls_must_be_http(tmp_path):
    with pytest.raises(ValueError, match="not an http"):
        require_reachable("ftp://example.org/file")
    assert os.listdir(tmp_path) == []


def test_a_silent_host_times_out_after_the_short_connect_timeout(monkeypatch):
    from course_utils.tools import download as download_module

    seen = []

    def silent(address, timeout):
        seen.append((address, timeout))
        raise TimeoutError("timed out")

    monkeypatch.setattr(download_module.socket, "create_connection", silent)
    with pytest.raises(ConnectionError, match=r"example\.org:443 \(timed out\).*offline sample"):
        require_reachable("https://example.org/file.nwb")
    assert seen == [(("example.org", 443), download_module.CONNECT_TIMEOUT)]
    assert download_module.CONNECT_TIMEOUT <= 5
