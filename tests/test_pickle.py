"""Pickling and copying: the instance's attributes, subclasses, and training that continues
bit for bit (the optimizer's state travels with the network)."""

import copy
import pickle
import warnings

import numpy as np
import pytest

from ferroprop import Network

rng = np.random.default_rng(0)
X = rng.standard_normal((50, 3))
Y = (rng.random((50, 1)) > 0.5) * 1.0


def make(dtype="float64", cls=Network, **kwargs):
    return cls([3, 5, 1], ["relu", "sigmoid"], "binary_cross_entropy", dtype, seed=0, **kwargs)


def _file(net, tmp_path):
    net.save(tmp_path / "m.safetensors", optimizer_state=True)
    return Network.load(tmp_path / "m.safetensors")


ROUND_TRIPS = {
    "pickle": lambda net, _: pickle.loads(pickle.dumps(net)),
    "pickle0": lambda net, _: pickle.loads(pickle.dumps(net, protocol=0)),
    "deepcopy": lambda net, _: copy.deepcopy(net),
    "copy": lambda net, _: copy.copy(net),
    "bytes": lambda net, _: Network.from_bytes(net.to_bytes()),
    "file": _file,
}
OPTIMIZERS = {
    "sgd": {},
    "momentum": {"momentum": 0.9},
    "nesterov": {"momentum": 0.9, "nesterov": True},
    "adam": {"optimizer": "adam"},
    "adam_settings": {"optimizer": "adam", "beta_1": 0.5, "beta_2": 0.75, "epsilon": 1 / 3},
    "adamw": {"optimizer": "adamw", "weight_decay": 0.1, "beta_2": 0.75},
    "sgd_decay": {"momentum": 0.9, "weight_decay": 0.05},
}


def assert_same_bits(a, b):
    for (Wa, ba), (Wb, bb) in zip(a.get_weights(), b.get_weights()):
        assert Wa.dtype == Wb.dtype
        np.testing.assert_array_equal(Wa, Wb)
        np.testing.assert_array_equal(ba, bb)


@pytest.mark.parametrize("trip", list(ROUND_TRIPS))
@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("batch_size", [None, 16])
def test_training_continues_bit_for_bit_after_a_round_trip(
    tmp_path, trip, optimizer, dtype, batch_size
):
    settings = dict(learning_rate=0.05, batch_size=batch_size, **OPTIMIZERS[optimizer])
    a = make(dtype)
    a.fit(X, Y, epochs=3, seed=0, **settings)
    b = ROUND_TRIPS[trip](a, tmp_path)
    for net in (a, b):
        net.fit(X, Y, epochs=3, seed=1, **settings)
    assert_same_bits(a, b)
    # And without the state the steps differ (but for plain SGD, which has none).
    c = make(dtype)
    c.fit(X, Y, epochs=3, seed=0, **settings)
    c.reset_optimizer()
    c.fit(X, Y, epochs=3, seed=1, **settings)
    differs = any(
        not np.array_equal(Wa, Wc) for (Wa, _), (Wc, _) in zip(a.get_weights(), c.get_weights())
    )
    assert differs == (optimizer != "sgd")


def test_saved_weights_only_start_a_fresh_optimizer(tmp_path):
    a = make()
    a.fit(X, Y, epochs=3, learning_rate=0.05, seed=0, optimizer="adam")
    a.save(tmp_path / "m.safetensors")
    b = Network.load(tmp_path / "m.safetensors")
    a.reset_optimizer()
    for net in (a, b):
        net.fit(X, Y, epochs=3, learning_rate=0.05, seed=1, optimizer="adam")
    assert_same_bits(a, b)


def test_other_optimizer_settings_after_a_round_trip_start_afresh():
    a = make()
    a.fit(X, Y, epochs=3, learning_rate=0.05, seed=0, momentum=0.9)
    b = pickle.loads(pickle.dumps(a))
    a.reset_optimizer()
    for net in (a, b):
        net.fit(X, Y, epochs=3, learning_rate=0.05, seed=1, momentum=0.5)
    assert_same_bits(a, b)


# -- the instance's attributes ------------------------------------------------------------


class Tagged(Network):
    """A subclass with an argument of its own and attributes set in __init__."""

    def __init__(self, *args, tag, **kwargs):
        super().__init__(*args, **kwargs)
        self.tag = tag
        self.notes = [tag]


class Slotted(Network):
    __slots__ = ("slot", "__private")

    def set_private(self, value):
        self.__private = value

    def private(self):
        return self.__private


COPIES = {
    "pickle": lambda net: pickle.loads(pickle.dumps(net)),
    "pickle0": lambda net: pickle.loads(pickle.dumps(net, protocol=0)),
    "deepcopy": copy.deepcopy,
    "copy": copy.copy,
}


@pytest.mark.parametrize("how", list(COPIES))
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_copies_keep_history_and_the_users_attributes(how, dtype):
    a = make(dtype)
    a.fit(X, Y, epochs=4, learning_rate=0.05, seed=0, validation_data=(X, Y))
    a.label = "mine"
    a.extra = {"runs": [1, 2]}
    b = COPIES[how](a)
    assert type(b) is Network
    assert b.history_ == a.history_ and b.label == "mine" and b.extra == a.extra
    assert b._core is not a._core
    assert (b.extra is a.extra) == (how == "copy")  # a shallow copy shares, the rest do not
    assert b.to_bytes() == a.to_bytes()


@pytest.mark.parametrize("how", list(COPIES))
def test_subclasses_round_trip_with_their_attributes(how):
    a = make(cls=Tagged, tag="t")
    a.fit(X, Y, epochs=2, learning_rate=0.05, seed=0, optimizer="adam")
    b = COPIES[how](a)
    assert type(b) is Tagged
    assert (b.tag, b.notes, b.history_) == ("t", ["t"], a.history_)
    for net in (a, b):
        net.fit(X, Y, epochs=2, learning_rate=0.05, seed=1, optimizer="adam")
    assert_same_bits(a, b)
    s = make(cls=Slotted)
    s.slot, s.other = 3, 4
    s.set_private(5)
    t = COPIES[how](s)
    assert type(t) is Slotted and (t.slot, t.other, t.private()) == (3, 4, 5)
    empty = COPIES[how](make(cls=Slotted))  # an unset slot stays unset
    assert not hasattr(empty, "slot")


def test_a_network_never_trained_copies_without_attributes():
    a = make()
    b = pickle.loads(pickle.dumps(a))
    assert not hasattr(b, "history_") and vars(b).keys() == {"_core"}


def test_pickles_of_earlier_versions_still_load(monkeypatch):
    # Earlier versions pickled the weights' bytes alone (format version 1).
    a = make()
    a.fit(X, Y, epochs=2, learning_rate=0.05, seed=0, optimizer="adam")
    monkeypatch.setattr(Network, "__getstate__", lambda self: {"safetensors": weights(self)})
    data = pickle.dumps(a)
    monkeypatch.undo()
    b = pickle.loads(data)
    assert not hasattr(b, "history_")
    a.reset_optimizer()
    assert b.to_bytes() == a.to_bytes()
    assert_same_bits(a, b)


def weights(net):
    fresh = Network.from_bytes(net.to_bytes())
    fresh.reset_optimizer()
    return fresh.to_bytes()


def test_the_pickled_state_is_the_bytes_and_the_attributes():
    a = make()
    a.fit(X, Y, epochs=2, learning_rate=0.05, seed=0)
    state = a.__getstate__()
    assert state == {"safetensors": a.to_bytes(), "attributes": {"history_": a.history_}}


# -- scikit-learn's estimators ------------------------------------------------------------

SOLVERS = {
    "adam": {"solver": "adam"},
    "sgd": {"solver": "sgd", "momentum": 0.0},
    "momentum": {"solver": "sgd", "momentum": 0.9, "nesterovs_momentum": False},
    "nesterov": {"solver": "sgd", "momentum": 0.9},
    "invscaling": {"solver": "sgd", "learning_rate": "invscaling"},
    "adaptive": {"solver": "sgd", "learning_rate": "adaptive"},
}


@pytest.mark.parametrize("solver", list(SOLVERS))
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("kind", ["classifier", "regressor"])
@pytest.mark.parametrize("how", ["pickle", "deepcopy"])
def test_estimators_continue_bit_for_bit_after_pickling(solver, dtype, kind, how):
    sklearn = pytest.importorskip("ferroprop.sklearn")
    Est = sklearn.MLPClassifier if kind == "classifier" else sklearn.MLPRegressor
    y = Y[:, 0].astype(int) if kind == "classifier" else X @ np.array([1.0, -2.0, 0.5])
    est = Est(hidden_layer_sizes=(5,), max_iter=5, random_state=0, dtype=dtype, **SOLVERS[solver])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # max_iter reached
        est.fit(X, y)
    back = pickle.loads(pickle.dumps(est)) if how == "pickle" else copy.deepcopy(est)
    for e in (est, back):
        for _ in range(3):
            e.partial_fit(X, y)
    for Wa, Wb in zip(est.coefs_ + est.intercepts_, back.coefs_ + back.intercepts_):
        np.testing.assert_array_equal(Wa, Wb)
    assert back.loss_curve_ == est.loss_curve_
