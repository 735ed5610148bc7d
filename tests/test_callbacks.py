"""fit's callbacks with context (an EpochInfo record), callable validation metrics, early
stopping's default patience, and the messages of the commonest beginner mistakes."""

import numpy as np
import pytest
from sklearn.metrics import accuracy_score

from ferroprop import EpochInfo, Network


def classification(n=200, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    y = (X[:, 0] + X[:, 1] ** 2 > 1).astype(int) + (X[:, 2] > 1)
    return X, y


# A small network (one thread, the feature-major engine) and one whose products run on
# the pool (the calling thread waits between epochs): the hooks must behave the same.
SHAPES = {"small": [4, 8, 3], "threaded": [4, 600, 600, 3]}


def fit_kwargs(X, y):
    return dict(epochs=6, learning_rate=0.05, batch_size=50, seed=1, validation_data=(X, y))


@pytest.mark.parametrize("shape", SHAPES)
def test_a_one_argument_callback_gets_the_epoch_in_context(shape):
    X, y = classification()
    net = Network(SHAPES[shape], ["relu"] * (len(SHAPES[shape]) - 2) + ["softmax"], seed=0)
    seen = []

    def callback(info):
        seen.append((info, info.network.predict(X[:5]), info.network.get_weights()[0][0].copy()))

    net.fit(X, y, **fit_kwargs(X, y), validation_metric="accuracy", callback=callback)
    h = net.history_
    assert [info.epoch for info, _, _ in seen] == list(range(1, 7))
    assert all(isinstance(info, EpochInfo) and info.network is net for info, _, _ in seen)
    assert [info.loss for info, _, _ in seen] == h["loss"]
    assert [info.val_loss for info, _, _ in seen] == h["val_loss"]
    assert [info.val_score for info, _, _ in seen] == h["val_score"]
    assert [info.learning_rate for info, _, _ in seen] == h["learning_rate"]
    # The network as the callback read it is that epoch's: a fit of 3 epochs ends there.
    again = Network(SHAPES[shape], ["relu"] * (len(SHAPES[shape]) - 2) + ["softmax"], seed=0)
    again.fit(X, y, **{**fit_kwargs(X, y), "epochs": 3}, validation_metric="accuracy")
    np.testing.assert_array_equal(seen[2][1], again.predict(X[:5]))
    np.testing.assert_array_equal(seen[2][2], again.get_weights()[0][0])


def test_a_record_callback_stops_training_and_the_classic_form_still_works():
    X, y = classification()
    net = Network([4, 8, 3], ["relu", "softmax"], seed=0)
    net.fit(X, y, epochs=50, callback=lambda info: info.epoch == 4)
    assert net.history_["stopped"] == "callback" and len(net.history_["loss"]) == 4
    assert net.history_["val_loss"] == []
    calls = []
    net.fit(X, y, epochs=3, callback=lambda epoch, loss: calls.append((epoch, loss)))
    assert calls == list(zip([1, 2, 3], net.history_["loss"]))
    star = []
    net.fit(X, y, epochs=2, callback=lambda *args: star.append(args))
    assert [len(a) for a in star] == [2, 2]
    # Without validation data the record has no validation numbers.
    infos = []
    net.fit(X, y, epochs=1, callback=infos.append)
    assert infos[0].val_loss is None and infos[0].val_score is None


def test_a_callback_error_propagates_and_a_callable_without_parameters_is_refused():
    X, y = classification(40)
    net = Network([4, 8, 3], ["relu", "softmax"], seed=0)

    def boom(info):
        raise KeyError("from the callback")

    with pytest.raises(KeyError, match="from the callback"):
        net.fit(X, y, epochs=3, callback=boom)
    with pytest.raises(TypeError, match="one argument .* or two"):
        net.fit(X, y, epochs=3, callback=lambda: None)
    with pytest.raises(TypeError, match="callback must be callable"):
        net.fit(X, y, epochs=3, callback=3)


@pytest.mark.parametrize("shape", SHAPES)
def test_a_callable_metric_judges_as_the_built_in_one(shape):
    X, y = classification(300)
    acts = ["relu"] * (len(SHAPES[shape]) - 2) + ["softmax"]
    kwargs = dict(
        epochs=40,
        learning_rate=0.5 if shape == "small" else 0.05,
        batch_size=8 if shape == "small" else 50,
        seed=0,
        validation_data=(X[200:], y[200:]),
        n_iter_no_change=3,
        tol=0.0,
        early_stopping=True,
    )
    calls = []

    def accuracy(y_true, y_pred):
        calls.append((y_true.shape, y_pred.shape))
        return accuracy_score(y_true, y_pred.argmax(axis=1))

    a = Network(SHAPES[shape], acts, seed=3)
    a.fit(X[:200], y[:200], validation_metric="accuracy", **kwargs)
    b = Network(SHAPES[shape], acts, seed=3)
    b.fit(X[:200], y[:200], validation_metric=accuracy, **kwargs)
    assert a.history_ == b.history_
    for (wa, ba), (wb, bb) in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)
        np.testing.assert_array_equal(ba, bb)
    assert calls == [((100,), (100, 3))] * len(b.history_["loss"])


def test_a_callable_metric_on_real_targets_and_its_errors():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(120, 3))
    y = X[:, 0] - X[:, 1]
    net = Network([3, 8, 1], ["tanh", "identity"], "mean_squared_error", seed=0)

    def neg_mse(y_true, y_pred):
        return -float(np.mean((y_true - y_pred) ** 2))

    net.fit(X, y, epochs=3, validation_data=(X, y), validation_metric=neg_mse)
    h = net.history_
    assert h["val_score"] == pytest.approx([-v for v in h["val_loss"]], rel=1e-12)
    with pytest.raises(TypeError, match="validation_metric must return a real number"):
        net.fit(X, y, epochs=2, validation_data=(X, y), validation_metric=lambda t, p: "good")
    with pytest.raises(ZeroDivisionError):
        net.fit(X, y, epochs=2, validation_data=(X, y), validation_metric=lambda t, p: 1 / 0)
    # A NaN score resets the no-improvement count, as in scikit-learn's rule (the
    # comparison with the best score is false): training runs on.
    net.fit(
        X,
        y,
        epochs=12,
        validation_data=(X, y),
        validation_metric=lambda t, p: float("nan"),
        early_stopping=True,
        n_iter_no_change=2,
    )
    assert net.history_["stopped"] == "max_epochs" and np.isnan(net.history_["val_score"]).all()


def test_early_stopping_stops_after_ten_epochs_without_improvement_by_default():
    X, y = classification(300)
    net = Network([4, 8, 3], ["relu", "softmax"], seed=0)
    # No score can improve by 2: the count grows from the second epoch on and exceeds 10
    # after 12 epochs.
    net.fit(
        X[:200],
        y[:200],
        epochs=500,
        validation_data=(X[200:], y[200:]),
        early_stopping=True,
        tol=2.0,
    )
    assert net.history_["stopped"] == "no_improvement" and len(net.history_["loss"]) == 12
    # Without early stopping, n_iter_no_change=None still never stops early.
    net.fit(X[:200], y[:200], epochs=30, validation_data=(X[200:], y[200:]), tol=2.0)
    assert net.history_["stopped"] == "max_epochs"


def teach(net, X, y):
    with pytest.raises((ValueError, TypeError)) as err:
        net.fit(X, y, epochs=1)
    return str(err.value)


def test_the_commonest_mistakes_get_messages_that_say_what_to_do():
    X = np.zeros((4, 2))
    bce = Network([2, 3, 1], ["relu", "sigmoid"], seed=0)
    message = teach(bce, X, np.eye(2)[[0, 1, 0, 1]])
    assert "2 columns" in message and "cross_entropy" in message and "0/1 labels" in message
    message = teach(bce, X, np.array([1, 2, 1, 2]))
    assert "[1, 2]" in message and "0 and 1" in message and "cross_entropy" in message
    message = teach(bce, X, np.array(["cat", "dog", "cat", "dog"]))
    assert "'cat'" in message and "numpy.unique" in message and "MLPClassifier" in message
    message = teach(bce, X, np.zeros(3))
    assert "3 rows but X has 4" in message and "one row per sample" in message
    ce = Network([2, 3, 2], ["relu", "softmax"], "cross_entropy", seed=0)
    message = teach(ce, X, np.array([1, 2, 1, 2]))
    assert "count from 0" in message
    with pytest.raises(ValueError, match="did you mean 'relu'"):
        Network([2, 3, 1], ["rleu", "sigmoid"])
