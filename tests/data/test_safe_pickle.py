"""safe_load_pickle: loads the CIFAR pickle shapes, refuses every other global without calling it."""

import builtins
import io
import os
import pickle
import pickletools

import numpy as np
import pytest

from sskd.data import DatasetFormatError, UnsafePickleError, safe_load_pickle


def test_loads_protocol2_numpy_dict_with_bytes_keys(tmp_path):
    data = np.arange(2 * 3072, dtype=np.uint8).reshape(2, 3072)
    path = tmp_path / "batch"
    with open(path, "wb") as f:
        pickle.dump({b"data": data, b"labels": [3, 7], b"n": np.int64(5)}, f, protocol=2)
    loaded = safe_load_pickle(path)
    assert np.array_equal(loaded[b"data"], data) and loaded[b"data"].dtype == np.uint8
    assert loaded[b"labels"] == [3, 7] and loaded[b"n"] == 5


def test_loads_python2_style_pickle_naming_numpy_core(py2_pickle):
    raw = py2_pickle({"data": np.full((1, 3072), 9, np.uint8), "fine_label_names": ["apple", "bee"]})
    assert b"numpy.core.multiarray\n_reconstruct" in raw and b"_codecs" not in raw
    loaded = safe_load_pickle(io.BytesIO(raw))
    assert set(loaded) == {b"data", b"fine_label_names"}
    assert loaded[b"fine_label_names"] == [b"apple", b"bee"]
    assert int(loaded[b"data"][0, 100]) == 9


class SystemCall:
    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


class EvalCall:
    def __reduce__(self):
        return (builtins.eval, ("1 + 1",))


def test_refuses_os_system_without_running_it(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil"
    path.write_bytes(pickle.dumps({b"data": SystemCall(f"echo pwned > {marker}")}, protocol=2))
    with pytest.raises(UnsafePickleError) as info:
        safe_load_pickle(path)
    message = str(info.value)
    assert f"{os.system.__module__}.system" in message
    assert str(path) in message and "numpy.ndarray" in message
    assert not marker.exists()


@pytest.mark.parametrize("protocol", [0, 2, pickle.HIGHEST_PROTOCOL])
def test_refuses_builtins_eval(protocol):
    with pytest.raises(UnsafePickleError, match=r"(builtins|__builtin__)\.eval") as info:
        raw = pickle.dumps(EvalCall(), protocol=protocol)
        safe_load_pickle(io.BytesIO(raw), name_for_errors="x.tar.gz:evil")
    assert "x.tar.gz:evil" in str(info.value)


def test_unsafe_error_is_a_dataset_format_error_and_value_error():
    assert issubclass(UnsafePickleError, DatasetFormatError) and issubclass(UnsafePickleError, ValueError)


def test_codecs_encode_is_limited_to_latin1():
    raw = b"\x80\x02c_codecs\nencode\n(X\x05\x00\x00\x00helloX\x06\x00\x00\x00rot_13tR."
    assert pickle.loads(raw) == "uryyb"
    with pytest.raises(UnsafePickleError, match="rot_13"):
        safe_load_pickle(io.BytesIO(raw))


def test_truncated_pickle_is_a_format_error_naming_the_file(tmp_path):
    path = tmp_path / "train"
    full = pickle.dumps({b"data": np.zeros((4, 3072), np.uint8)}, protocol=2)
    path.write_bytes(full[: len(full) // 2])
    with pytest.raises(DatasetFormatError, match="cannot unpickle") as info:
        safe_load_pickle(path)
    assert not isinstance(info.value, UnsafePickleError)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("protocol", [5, pickle.HIGHEST_PROTOCOL])
def test_loads_cifar_dict_pickled_with_protocol_5(tmp_path, protocol):
    data = np.arange(3 * 3072, dtype=np.uint8).reshape(3, 3072) % 251
    batch = {b"batch_label": b"training batch", b"data": data, b"labels": [1, 2, 3], b"f": np.int64(4)}
    raw = pickle.dumps(batch, protocol=protocol)
    assert b"_frombuffer" in raw
    path = tmp_path / "data_batch_1"
    path.write_bytes(raw)
    loaded = safe_load_pickle(path)
    assert np.array_equal(loaded[b"data"], data) and loaded[b"data"].dtype == np.uint8
    assert loaded[b"labels"] == [1, 2, 3] and loaded[b"f"] == 4
    # numpy < 2 wrote the same function under numpy.core
    old_style = pickletools.optimize(raw.replace(b"\x8c\x13numpy._core.numeric", b"\x8c\x12numpy.core.numeric"))
    assert b"numpy.core.numeric" in old_style
    assert np.array_equal(safe_load_pickle(io.BytesIO(old_style))[b"data"], data)


def test_frombuffer_refuses_object_dtype():
    raw = (
        b"\x80\x05\x8c\x13numpy._core.numeric\x94\x8c\x0b_frombuffer\x94\x93\x94"
        b"(C\x08\x00\x00\x00\x00\x00\x00\x00\x00\x8c\x05numpy\x8c\x05dtype\x93\x8c\x02O8\x89\x88\x87R"
        b"K\x01\x85\x8c\x01Ct\x94R\x94."
    )
    with pytest.raises(DatasetFormatError, match="OBJECT") as info:
        safe_load_pickle(io.BytesIO(raw), name_for_errors="objects")
    assert "objects" in str(info.value) and not isinstance(info.value, UnsafePickleError)


def test_refuses_os_system_at_protocol_5(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil"
    path.write_bytes(pickle.dumps({b"data": SystemCall(f"echo pwned > {marker}")}, protocol=5))
    with pytest.raises(UnsafePickleError) as info:
        safe_load_pickle(path)
    assert f"{os.system.__module__}.system" in str(info.value) and str(path) in str(info.value)
    assert not marker.exists()
