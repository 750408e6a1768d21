"""Finding the data and downloading it, against a local HTTP server on 127.0.0.1."""

import functools
import http.server
import shutil
import threading

import pytest

from fmnist.data import locate
from fmnist.data.idx import IDXError


@pytest.fixture
def mirror(tmp_path):
    """Serve a folder over HTTP on 127.0.0.1; yields (folder, base URL)."""
    folder = tmp_path / "mirror"
    folder.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield folder, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture
def empty_places(tmp_path, monkeypatch):
    """Point the system folder and the user cache at empty folders."""
    monkeypatch.setattr(locate, "SYSTEM_DIR", tmp_path / "no-system-copy")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv(locate.ENV_VAR, raising=False)
    return tmp_path / "cache" / "fmnist"


def test_download_fills_cache_and_verifies(data_root, mirror, empty_places):
    folder, url = mirror
    for path in data_root.glob("*.gz"):
        shutil.copy(path, folder)
    root = locate.resolve_root(None, download=True, mirror=url)
    assert root == empty_places
    assert locate.complete(root)
    assert not list(root.glob("*.part"))
    # A second call finds the cache and downloads nothing.
    shutil.rmtree(folder)
    assert locate.resolve_root(None, download=True, mirror=url) == empty_places


def test_corrupt_download_leaves_no_file(mirror, empty_places):
    folder, url = mirror
    for spec in locate.OFFICIAL_FILES.values():
        (folder / f"{spec.name}.gz").write_bytes(b"not a gzip file at all")
    with pytest.raises(IDXError, match="is not the official file"):
        locate.resolve_root(None, download=True, mirror=url)
    assert not any(empty_places.iterdir())


def test_unreachable_mirror_names_url_and_fix(empty_places):
    with pytest.raises(locate.DataNotFoundError) as error:
        locate.resolve_root(None, download=True, mirror="http://127.0.0.1:9/")
    assert "http://127.0.0.1:9/" in str(error.value)
    assert "data.root" in str(error.value)


def test_download_disabled_names_fixes(empty_places):
    with pytest.raises(locate.DataNotFoundError, match="dataset-fashion-mnist"):
        locate.resolve_root(None, download=False, mirror="http://127.0.0.1:9/")


def test_explicit_root_without_files_is_error(tmp_path, empty_places):
    with pytest.raises(locate.DataNotFoundError) as error:
        locate.resolve_root(str(tmp_path), download=True, mirror="http://127.0.0.1:9/")
    assert f"data.root={tmp_path}" in str(error.value)
    assert "train-images-idx3-ubyte" in str(error.value)


def test_environment_variable_comes_before_system_copy(data_root, tmp_path, monkeypatch):
    copy = tmp_path / "copy"
    shutil.copytree(data_root, copy)
    monkeypatch.setenv(locate.ENV_VAR, str(copy))
    assert locate.resolve_root(None, download=False, mirror="") == copy
    assert locate.resolve_root(str(data_root), download=False, mirror="") == data_root
