"""IDX reading: official files, truncation, wrong magic numbers and wrong checksums."""

import gzip
import shutil

import numpy as np
import pytest

from fmnist.data.idx import OFFICIAL_FILES, IDXError, load_official, parse_idx, read_bytes


def test_official_files_load_and_verify(data_root):
    for spec in OFFICIAL_FILES.values():
        array, digest = load_official(data_root / f"{spec.name}.gz", spec)
        assert array.shape == spec.shape
        assert digest == spec.sha256
    labels, _ = load_official(data_root / "t10k-labels-idx1-ubyte.gz", OFFICIAL_FILES["test_labels"])
    assert np.bincount(labels).tolist() == [1000] * 10


def test_plain_file_reads_like_gzip(data_root, tmp_path):
    spec = OFFICIAL_FILES["test_labels"]
    plain = tmp_path / spec.name
    plain.write_bytes(gzip.decompress((data_root / f"{spec.name}.gz").read_bytes()))
    array, digest = load_official(plain, spec)
    assert digest == spec.sha256
    assert array.shape == (10000,)


def test_truncated_file_names_file_and_sizes(data_root, tmp_path):
    spec = OFFICIAL_FILES["test_labels"]
    raw = read_bytes(data_root / f"{spec.name}.gz")
    truncated = tmp_path / spec.name
    truncated.write_bytes(raw[:-100])
    with pytest.raises(IDXError) as error:
        load_official(truncated, spec)
    assert str(truncated) in str(error.value)
    assert "truncated" in str(error.value)


def test_truncated_gzip_is_reported(data_root, tmp_path):
    spec = OFFICIAL_FILES["test_labels"]
    broken = tmp_path / f"{spec.name}.gz"
    broken.write_bytes((data_root / f"{spec.name}.gz").read_bytes()[:-50])
    with pytest.raises(IDXError, match="cannot be read"):
        load_official(broken, spec)


def test_wrong_magic_number(tmp_path):
    path = tmp_path / "bad"
    with pytest.raises(IDXError, match="wrong magic number"):
        parse_idx(b"\x00\x00\x0d\x01" + (3).to_bytes(4, "big") + b"abc", path)


def test_images_file_in_place_of_labels(data_root, tmp_path):
    wrong = tmp_path / "t10k-labels-idx1-ubyte.gz"
    shutil.copy(data_root / "t10k-images-idx3-ubyte.gz", wrong)
    with pytest.raises(IDXError, match="shape"):
        load_official(wrong, OFFICIAL_FILES["test_labels"])


def test_checksum_mismatch_names_expected_digest(data_root, tmp_path):
    spec = OFFICIAL_FILES["test_labels"]
    raw = bytearray(read_bytes(data_root / f"{spec.name}.gz"))
    raw[-1] = (raw[-1] + 1) % 10
    modified = tmp_path / spec.name
    modified.write_bytes(bytes(raw))
    with pytest.raises(IDXError) as error:
        load_official(modified, spec)
    assert spec.sha256 in str(error.value)
    array, _ = load_official(modified, spec, verify=False)
    assert array[-1] == raw[-1]
