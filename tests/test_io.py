"""Saving and loading: round trips, atomicity, hostile files, pickling."""

import json
import os
import pickle
import socket
import stat
import struct
import subprocess
import sys
import tempfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ferroprop import Network


def net(dtype="float64"):
    return Network([3, 5, 4, 2], ["relu", "tanh", "softmax"], "cross_entropy", dtype, seed=7)


X = np.random.default_rng(0).normal(size=(6, 3))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_save_load_round_trip_is_exact(tmp_path, dtype):
    a = net(dtype)
    a.fit(X, [0, 1, 1, 0, 1, 0], epochs=3, seed=0)
    path = tmp_path / "model.safetensors"
    a.save(path)
    b = Network.load(str(path))
    assert repr(a) == repr(b)
    for (Wa, ba), (Wb, bb) in zip(a.get_weights(), b.get_weights()):
        assert Wa.dtype == Wb.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(Wa, Wb)
        np.testing.assert_array_equal(ba, bb)
    np.testing.assert_array_equal(a.predict(X), b.predict(X))
    assert [p.name for p in tmp_path.iterdir()] == ["model.safetensors"]  # no temporary left


def test_file_is_readable_by_safetensors_by_name(tmp_path):
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    a = net()
    a.save(tmp_path / "m.safetensors")
    tensors = safetensors_numpy.load_file(str(tmp_path / "m.safetensors"))
    assert sorted(tensors) == sorted(
        f"layers.{k}.{name}" for k in range(3) for name in ("weight", "bias")
    )
    for k, (W, b) in enumerate(a.get_weights()):
        np.testing.assert_array_equal(tensors[f"layers.{k}.weight"], W.T)  # nn.Linear layout
        np.testing.assert_array_equal(tensors[f"layers.{k}.bias"], b)


def test_tensors_load_into_pytorch_by_name(tmp_path):
    torch = pytest.importorskip("torch")
    safetensors_torch = pytest.importorskip("safetensors.torch")
    a = net()
    a.save(tmp_path / "m.safetensors")
    model = torch.nn.Module()
    model.layers = torch.nn.ModuleList(
        torch.nn.Linear(i, o, dtype=torch.float64) for i, o in [(3, 5), (5, 4), (4, 2)]
    )
    model.load_state_dict(safetensors_torch.load_file(str(tmp_path / "m.safetensors")))
    h = torch.from_numpy(X)
    h = torch.relu(model.layers[0](h))
    h = torch.tanh(model.layers[1](h))
    h = torch.softmax(model.layers[2](h), dim=1)
    np.testing.assert_allclose(h.detach().numpy(), a.predict(X), rtol=1e-12)


def test_failed_save_leaves_the_previous_file(tmp_path):
    path = tmp_path / "m.safetensors"
    a = net()
    a.save(path)
    before = path.read_bytes()
    (tmp_path / "dir.safetensors").mkdir()
    with pytest.raises(OSError):
        a.save(tmp_path / "dir.safetensors")
    with pytest.raises(OSError):
        a.save(tmp_path / "missing" / "m.safetensors")
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir.safetensors", "m.safetensors"]


def test_missing_file_and_bad_paths():
    with pytest.raises(FileNotFoundError):
        Network.load("/nonexistent/ferroprop/model.safetensors")
    with pytest.raises(TypeError, match="path"):
        net().save(3)
    with pytest.raises(TypeError, match="data"):
        Network.from_bytes("text")


def _header(meta, tensors):
    import json

    head = dict(tensors)
    head["__metadata__"] = meta
    raw = json.dumps(head).encode()
    return struct.pack("<Q", len(raw)) + raw


GOOD = net().to_bytes()
LABELS = [0, 1, 1, 0, 1, 0]


def trained(dtype="float64", **optimizer):
    a = net(dtype)
    a.fit(X, LABELS, epochs=2, learning_rate=0.1, batch_size=4, seed=0, **optimizer)
    return a


WITH_STATE = trained(optimizer="adam").to_bytes()  # format version 2, Adam's moments
META = {
    "format": "ferroprop",
    "format_version": "1",
    "dtype": "float64",
    "layer_sizes": "3,5,4,2",
    "activations": "relu,tanh,softmax",
    "loss": "cross_entropy",
}


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"", "too short|not a valid"),
        (b"\x00" * 7, "too short|not a valid"),
        (GOOD[:-1], "not a valid|bytes long"),
        (GOOD + b"\x00", "not a valid|bytes long"),
        (struct.pack("<Q", 2**40) + b"{}", "header|not a valid"),
        (struct.pack("<Q", 2**64 - 1) + b"{}", "header|not a valid"),
        (struct.pack("<Q", 5) + b"notjs", "not a valid|JSON"),
        (_header({}, {}), "lacks|ferroprop"),
        (_header({**META, "format": "other"}, {}), "format"),
        (_header({**META, "format_version": "99"}, {}), "format_version"),
        (_header({**META, "dtype": "float16"}, {}), "dtype"),
        (_header({**META, "layer_sizes": "3,x,2"}, {}), "layer_sizes"),
        (_header({**META, "layer_sizes": "3,0,2"}, {}), "at least 1"),
        (_header({**META, "activations": "relu,mish,softmax"}, {}), "mish"),
        (_header({**META, "loss": "hinge"}, {}), "hinge"),
        (_header(META, {}), "tensors|bytes long"),
    ],
)
def test_hostile_bytes_raise_value_error(tmp_path, data, match):
    _both_refuse(tmp_path, data, match)


def _both_refuse(tmp_path, data, match):
    """``from_bytes`` and ``load`` of the same bytes raise the same ValueError."""
    with pytest.raises(ValueError, match=match):
        Network.from_bytes(data)
    path = tmp_path / "bad.safetensors"
    path.write_bytes(data)
    with pytest.raises(ValueError, match=match):
        Network.load(path)


def test_foreign_safetensors_file_is_refused(tmp_path):
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    path = tmp_path / "foreign.safetensors"
    safetensors_numpy.save_file({"weight": np.zeros((2, 2))}, str(path))
    with pytest.raises(ValueError, match="metadata"):
        Network.load(path)
    # Our metadata over the wrong tensors: names, shapes and dtypes are all checked.
    a = net()
    tensors = {f"layers.{k}.weight": W.T.copy() for k, (W, _) in enumerate(a.get_weights())}
    tensors.update({f"layers.{k}.bias": b for k, (_, b) in enumerate(a.get_weights())})
    # Each change keeps the file's size, which both paths check first, so that the tensor
    # checks speak.
    for change, match in [
        (lambda t: t.update({"layers.2.bias2": t.pop("layers.2.bias")}), "lacks"),
        (lambda t: t.update({"layers.1.weight": np.zeros((5, 4))}), "shape"),
        (lambda t: t.update({"layers.0.bias": np.zeros(10, np.float32)}), "dtype"),
        (lambda t: t.update({"layers.0.bias": np.full(5, np.nan)}), "NaN"),
        (lambda t: t.update({"extra": np.zeros(0)}), "tensors"),
        (lambda t: t.pop("layers.2.bias"), "bytes long"),
        (lambda t: t.update({"extra": np.zeros(1)}), "bytes long"),
    ]:
        bad = {k: v.copy() for k, v in tensors.items()}
        change(bad)
        safetensors_numpy.save_file(bad, str(path), metadata=META)
        with pytest.raises(ValueError, match=match):
            Network.from_bytes(path.read_bytes())
        with pytest.raises(ValueError, match=match):
            Network.load(path)


@settings(
    max_examples=300, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)
)
@given(st.data())
def test_mutated_files_never_crash(data):
    """Truncations, byte flips and insertions of a valid file: either a ValueError, or a
    network that loads, has the architecture of its header and only finite weights."""
    raw = bytearray(data.draw(st.sampled_from([GOOD, WITH_STATE])))
    for _ in range(data.draw(st.integers(1, 4))):
        op = data.draw(st.sampled_from(["flip", "truncate", "insert", "header_len"]))
        if op == "flip" and raw:
            i = data.draw(st.integers(0, len(raw) - 1))
            raw[i] = data.draw(st.integers(0, 255))
        elif op == "truncate":
            del raw[data.draw(st.integers(0, len(raw))) :]
        elif op == "insert":
            i = data.draw(st.integers(0, len(raw)))
            raw[i:i] = data.draw(st.binary(min_size=1, max_size=16))
        elif op == "header_len" and len(raw) >= 8:
            raw[:8] = struct.pack("<Q", data.draw(st.integers(0, 2**64 - 1)))
    try:
        loaded = Network.from_bytes(bytes(raw))
    except ValueError:
        return
    for W, b in loaded.get_weights():
        assert np.isfinite(W).all() and np.isfinite(b).all()


@given(st.binary(max_size=512))
@settings(max_examples=300, deadline=None, derandomize=True)
def test_random_bytes_never_crash(raw):
    with pytest.raises(ValueError):
        Network.from_bytes(raw)


# -- the header: one rule for bytes and files ----------------------------------------------


def _padded(data, pad):
    """``data`` with ``pad`` spaces added to its header (still valid JSON)."""
    (n,) = struct.unpack("<Q", data[:8])
    return struct.pack("<Q", n + pad) + data[8 : 8 + n] + b" " * pad + data[8 + n :]


def _outcome(call):
    try:
        call()
    except ValueError as err:
        return str(err)
    return None


@pytest.mark.parametrize("base", ["weights", "with_state"])
@pytest.mark.parametrize("pad", [0, 1, "bound", "bound+1", 2 << 20, 5 << 20])
def test_bytes_and_files_follow_one_header_rule(tmp_path, base, pad):
    data = GOOD if base == "weights" else WITH_STATE
    (n,) = struct.unpack("<Q", data[:8])
    bound = 1 << 20
    pad = {"bound": bound - n, "bound+1": bound - n + 1}.get(pad, pad)
    padded = _padded(data, pad)
    path = tmp_path / "padded.safetensors"
    path.write_bytes(padded)
    from_bytes = _outcome(lambda: Network.from_bytes(padded))
    assert from_bytes == _outcome(lambda: Network.load(path))
    assert (from_bytes is None) == (n + pad <= bound), from_bytes
    if from_bytes is not None:
        assert "header" in from_bytes
    # A header that claims more bytes than follow, both ways.
    cut = padded[: 8 + (n + pad) // 2]
    path.write_bytes(cut)
    assert _outcome(lambda: Network.from_bytes(cut)) == _outcome(lambda: Network.load(path))


# -- loading: regular files only, never blocking -------------------------------------------

LOAD = """
import sys
from ferroprop import Network
try:
    Network.load(sys.argv[1])
except Exception as err:
    print(type(err).__name__, err, sep=": ")
"""


def load_in_child(path):
    """What ``Network.load(path)`` raises, from a child process (a hang fails the test)."""
    try:
        out = subprocess.run(
            [sys.executable, "-c", LOAD, str(path)], capture_output=True, text=True, timeout=120
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"Network.load({str(path)!r}) blocked")
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


@pytest.fixture
def short_dir():
    """A folder with a short path (a socket's path is limited to about 100 bytes)."""
    with tempfile.TemporaryDirectory(prefix="fp") as d:
        yield d


def _special(kind, folder):
    path = os.path.join(folder, kind)
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "folder":
        os.mkdir(path)
    elif kind == "socket":
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(path)
        sock.close()
    else:
        os.symlink(os.path.join("/dev", kind), path)  # a character device, through a link
    return path


SPECIAL = {
    "fifo": ("OSError", "named pipe (FIFO)"),
    "folder": ("IsADirectoryError", "folder"),
    "socket": ("OSError", "socket"),
    "zero": ("OSError", "character device"),
    "urandom": ("OSError", "character device"),
    "null": ("OSError", "character device"),
}


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX file types")
@pytest.mark.parametrize("kind", list(SPECIAL))
def test_load_refuses_what_is_not_a_regular_file_at_once(short_dir, kind):
    path = _special(kind, short_dir)
    error, what = SPECIAL[kind]
    got = load_in_child(path)
    assert got.startswith(f"{error}: ") and f"is a {what}, not a regular file" in got, got
    assert path in got
    # And through a symbolic link to it.
    os.symlink(path, os.path.join(short_dir, "link"))
    got = load_in_child(os.path.join(short_dir, "link"))
    assert got.startswith(f"{error}: ") and what in got, got


def test_load_reads_a_file_no_longer_than_its_size(tmp_path):
    # A file's size comes from the descriptor opened; trailing bytes are refused by size.
    path = tmp_path / "m.safetensors"
    path.write_bytes(WITH_STATE)
    np.testing.assert_array_equal(
        Network.load(path).predict(X), trained(optimizer="adam").predict(X)
    )
    path.write_bytes(WITH_STATE + b"\0" * 8)
    with pytest.raises(ValueError, match="bytes long"):
        Network.load(path)


# -- saving: names, links, modes -------------------------------------------------------


def _names(folder):
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize("length", [1, 200, 240, "max"])
def test_save_to_any_valid_file_name(tmp_path, length):
    if length == "max":
        length = os.pathconf(tmp_path, "PC_NAME_MAX")
    name = ("m" * length)[:length]
    a = trained(optimizer="adam")
    a.save(tmp_path / name)
    assert _names(tmp_path) == [name]  # no temporary left
    a.save(tmp_path / name, optimizer_state=True)
    assert _names(tmp_path) == [name]
    assert Network.load(tmp_path / name).to_bytes() == a.to_bytes()


def test_save_to_a_path_near_the_longest(tmp_path):
    # The temporary file is named relative to its folder: a path the system takes for the
    # target works, even when the temporary's full path would be too long.
    longest = os.pathconf(tmp_path, "PC_PATH_MAX") - 1
    folder = str(tmp_path)
    while len(folder) < longest - 2 - 200:
        folder = os.path.join(folder, "d" * 200)
    folder = os.path.join(folder, "d" * (longest - len(folder) - 3))
    os.makedirs(folder)
    path = os.path.join(folder, "m")
    assert len(path) == longest
    a = trained(optimizer="adam")
    for _ in range(2):  # a new file, then a replaced one
        a.save(path, optimizer_state=True)
        assert os.listdir(folder) == ["m"]
        assert Network.load(path).to_bytes() == a.to_bytes()


def test_save_to_a_name_too_long_fails_cleanly(tmp_path):
    name = "m" * (os.pathconf(tmp_path, "PC_NAME_MAX") + 1)
    with pytest.raises(OSError, match="too long"):
        net().save(tmp_path / name)
    assert _names(tmp_path) == []


def test_save_through_a_symlink_replaces_its_target_and_keeps_the_link(tmp_path):
    (tmp_path / "models").mkdir()
    target = tmp_path / "models" / "m.safetensors"
    net().save(target)
    os.symlink("models/m.safetensors", tmp_path / "relative")
    os.symlink(target, tmp_path / "absolute")
    os.symlink("relative", tmp_path / "chain")  # chain -> relative -> models/m.safetensors
    for link in ("relative", "absolute", "chain"):
        a = trained(optimizer="adam")
        a.fit(X, LABELS, epochs=1, seed=len(link))  # different weights each time
        a.save(tmp_path / link)
        assert (tmp_path / link).is_symlink()
        np.testing.assert_array_equal(Network.load(target).predict(X), a.predict(X))
        assert _names(tmp_path) == ["absolute", "chain", "models", "relative"]
        assert _names(tmp_path / "models") == ["m.safetensors"]  # written next to the target
    assert os.readlink(tmp_path / "relative") == "models/m.safetensors"


def test_save_through_a_dangling_symlink_creates_its_target(tmp_path):
    os.symlink("new.safetensors", tmp_path / "link")
    a = net()
    a.save(tmp_path / "link")
    assert (tmp_path / "link").is_symlink()
    assert (tmp_path / "new.safetensors").read_bytes() == a.to_bytes()
    # A dangling link into a folder that does not exist: the folder is not created.
    os.symlink("missing/m.safetensors", tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="nowhere"):
        a.save(tmp_path / "nowhere")


def test_save_through_a_symlink_loop_fails(tmp_path):
    os.symlink("b", tmp_path / "a")
    os.symlink("a", tmp_path / "b")
    with pytest.raises(OSError, match="symbolic links"):
        net().save(tmp_path / "a")
    assert _names(tmp_path) == ["a", "b"]


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o604, 0o755])
def test_save_keeps_the_mode_of_the_file_it_replaces(tmp_path, mode):
    path = tmp_path / "m.safetensors"
    net().save(path)
    os.chmod(path, mode)
    os.symlink(path, tmp_path / "link")
    net("float32").save(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == mode
    trained().save(tmp_path / "link")
    assert stat.S_IMODE(os.stat(path).st_mode) == mode
    assert Network.load(path).dtype == np.float64


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_a_new_file_gets_the_mode_the_umask_gives(tmp_path, umask):
    old = os.umask(umask)
    try:
        net().save(tmp_path / "m.safetensors")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "m.safetensors").st_mode) == 0o666 & ~umask


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root")
def test_save_as_root_keeps_the_owner(tmp_path):
    path = tmp_path / "m.safetensors"
    net().save(path)
    os.chown(path, 12345, 23456)
    net().save(path)
    assert (os.stat(path).st_uid, os.stat(path).st_gid) == (12345, 23456)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX file types")
@pytest.mark.parametrize("kind", ["fifo", "socket", "folder"])
def test_save_leaves_what_is_not_a_regular_file_alone(short_dir, kind):
    path = _special(kind, short_dir)
    before = os.lstat(path).st_mode
    error = IsADirectoryError if kind == "folder" else OSError
    with pytest.raises(error, match="not a regular file"):
        net().save(path)
    os.symlink(path, os.path.join(short_dir, "link"))
    with pytest.raises(error, match="not a regular file"):
        net().save(os.path.join(short_dir, "link"))
    assert os.lstat(path).st_mode == before
    assert sorted(os.listdir(short_dir)) == sorted([kind, "link"])


@pytest.mark.parametrize("path", ["", ".", "..", "models/", "models/.", "models/.."])
def test_save_refuses_a_path_that_names_no_file(tmp_path, monkeypatch, path):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "models").mkdir()
    with pytest.raises(ValueError, match="must name a file"):
        net().save(path)
    assert _names(tmp_path) == ["models"] and _names(tmp_path / "models") == []


def test_saved_files_hold_the_optimizer_state_only_when_asked(tmp_path):
    a = trained(optimizer="adam")
    a.save(tmp_path / "weights.safetensors")
    a.save(tmp_path / "state.safetensors", optimizer_state=True)
    assert (tmp_path / "state.safetensors").read_bytes() == a.to_bytes()
    meta = _metadata((tmp_path / "weights.safetensors").read_bytes())
    assert meta["format_version"] == "1" and "optimizer" not in meta
    meta = _metadata(a.to_bytes())
    assert meta["format_version"] == "2"
    assert {k: v for k, v in meta.items() if k.startswith("optimizer")} == {
        "optimizer": "adam",
        "optimizer.beta_1": "0.9",
        "optimizer.beta_2": "0.999",
        "optimizer.epsilon": "1e-8",
        "optimizer.steps": "4",
    }
    # A network never trained has no state: its bytes are format version 1.
    assert _metadata(net().to_bytes())["format_version"] == "1"


def test_files_with_optimizer_state_stay_readable_by_safetensors(tmp_path):
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    a = trained(optimizer="sgd", momentum=0.9)
    a.save(tmp_path / "m.safetensors", optimizer_state=True)
    tensors = safetensors_numpy.load_file(str(tmp_path / "m.safetensors"))
    n = sum(W.size + b.size for W, b in a.get_weights())
    assert tensors["optimizer.first"].shape == (n,) and "optimizer.second" not in tensors
    for k, (W, b) in enumerate(a.get_weights()):
        np.testing.assert_array_equal(tensors[f"layers.{k}.weight"], W.T)
        np.testing.assert_array_equal(tensors[f"layers.{k}.bias"], b)


# -- hostile optimizer state --------------------------------------------------------------


def _metadata(data):
    (n,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8 : 8 + n])["__metadata__"]


STATE_META = {
    **META,
    "format_version": "2",
    "optimizer": "adam",
    "optimizer.beta_1": "0.9",
    "optimizer.beta_2": "0.999",
    "optimizer.epsilon": "1e-8",
    "optimizer.steps": "3",
}
SGD_META = {
    **META,
    "format_version": "2",
    "optimizer": "sgd",
    "optimizer.momentum": "0.9",
    "optimizer.nesterov": "false",
    "optimizer.steps": "3",
}


@pytest.mark.parametrize(
    ("meta", "match"),
    [
        ({**META, "optimizer": "adam"}, "holds no optimizer state"),
        ({**META, "optimizer.steps": "3"}, "holds no optimizer state"),
        ({**STATE_META, "format_version": "3"}, "format_version"),
        ({k: v for k, v in STATE_META.items() if k != "optimizer"}, "lacks"),
        ({k: v for k, v in STATE_META.items() if k != "optimizer.steps"}, "lacks"),
        ({k: v for k, v in STATE_META.items() if k != "optimizer.beta_2"}, "lacks"),
        ({**STATE_META, "optimizer": "rmsprop"}, "rmsprop"),
        ({**STATE_META, "optimizer": "Adam"}, "Adam"),
        ({**STATE_META, "optimizer.beta_1": "1"}, "beta_1"),
        ({**STATE_META, "optimizer.beta_1": "-0.1"}, "beta_1"),
        ({**STATE_META, "optimizer.beta_2": "nan"}, "beta_2"),
        ({**STATE_META, "optimizer.epsilon": "0"}, "epsilon"),
        ({**STATE_META, "optimizer.epsilon": "inf"}, "epsilon"),
        ({**STATE_META, "optimizer.epsilon": "1e-8 "}, "not a number"),
        ({**STATE_META, "optimizer.steps": "-1"}, "steps"),
        ({**STATE_META, "optimizer.steps": "1.5"}, "steps"),
        ({**STATE_META, "optimizer.steps": str(2**63)}, "steps"),
        ({**STATE_META, "optimizer.momentum": "0.5"}, "does not have"),
        ({**STATE_META, "optimizer.lr": "0.5"}, "does not have"),
        ({**SGD_META, "optimizer.momentum": "1.0"}, "momentum"),
        ({**SGD_META, "optimizer.nesterov": "yes"}, "nesterov"),
        ({**SGD_META, "optimizer.beta_1": "0.9"}, "does not have"),
        (STATE_META, "bytes long"),  # settings fine, tensors missing
    ],
)
def test_hostile_optimizer_metadata_raises_value_error(tmp_path, meta, match):
    _both_refuse(tmp_path, _header(meta, {}), match)


def test_hostile_optimizer_tensors_raise_value_error(tmp_path):
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    a = trained(optimizer="adam")
    path = tmp_path / "m.safetensors"
    a.save(path, optimizer_state=True)
    good = safetensors_numpy.load_file(str(path))
    meta = _metadata(a.to_bytes())
    n = good["optimizer.first"].size
    # As above, changes of the size are refused by it; the others by the tensor checks.
    for change, match in [
        (lambda t: t.pop("optimizer.second"), "bytes long"),
        (lambda t: t.update({"optimizer.first": np.zeros(n + 1)}), "bytes long"),
        (lambda t: t.update({"optimizer.third": t.pop("optimizer.second")}), "lacks"),
        (lambda t: t.update({"optimizer.third": np.zeros(0)}), "tensors"),
        (lambda t: t.update({"optimizer.first": np.zeros((n // 2, 2))}), "shape"),
        (lambda t: t.update({"optimizer.first": np.zeros((1, n))}), "shape"),
        (lambda t: t.update({"optimizer.second": np.zeros(2 * n, np.float32)}), "dtype"),
        (lambda t: t.update({"optimizer.first": np.full(n, np.inf)}), "infinity"),
        (lambda t: t.update({"optimizer.second": np.full(n, np.nan)}), "NaN"),
        (lambda t: t.update({"optimizer.second": -np.ones(n)}), "non-negative"),
    ]:
        bad = {k: v.copy() for k, v in good.items()}
        change(bad)
        safetensors_numpy.save_file(bad, str(path), metadata=meta)
        with pytest.raises(ValueError, match=match):
            Network.from_bytes(path.read_bytes())
        with pytest.raises(ValueError, match=match):
            Network.load(path)
    # Plain SGD has no buffers: one is refused.
    plain = trained()
    meta = _metadata(plain.to_bytes())
    tensors = {k: v for k, v in good.items() if k.startswith("layers.")}
    tensors["optimizer.first"] = np.zeros(n)
    safetensors_numpy.save_file(tensors, str(path), metadata=meta)
    with pytest.raises(ValueError):
        Network.load(path)


def test_a_network_too_deep_for_the_header_is_refused_when_written():
    deep = Network([1] * 8000, "tanh", seed=0)
    with pytest.raises(ValueError, match="header"):
        deep.to_bytes()
    with pytest.raises(ValueError, match="header"):
        pickle.dumps(deep)
    shallower = Network([1] * 2000, "tanh", seed=0)
    shallower.fit(np.ones((2, 1)), np.ones(2), epochs=1, optimizer="adam")
    back = pickle.loads(pickle.dumps(shallower))
    assert back.to_bytes() == shallower.to_bytes()
