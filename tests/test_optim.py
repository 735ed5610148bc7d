"""AdamW, SGD's weight decay, PyTorch's schedules, warm-up and a callable learning rate:
ferroprop's steps against the reference's (``sgd_update``, ``adamw_update``,
``schedule_lrs``, ``train``), their arguments, files and the estimators.
PyTorch's own numbers: tests/test_optim_torch.py."""

from __future__ import annotations

import copy
import math
import pickle

import numpy as np
import pytest

from ferroprop import Network, reference

rng = np.random.default_rng(0)

# One network per engine (src/train/engine.rs): feature-major (every layer within 16
# units), row-major (more than 16 inputs), and the row-major passes on two halves of
# each batch (a product of half a batch large enough for threads).
ENGINES = {
    "feature_major": ([3, 5, 2], 16, 4),
    "row_major": ([20, 24, 3], 24, 8),
    "halves": ([96, 384, 3], 256, 256),
}
# (Network.fit's settings, the reference's optimizer and settings)
OPTIMIZERS = {
    "adamw": (
        {"optimizer": "adamw", "weight_decay": 0.1},
        ("adamw", {"weight_decay": 0.1}),
    ),
    "adamw_settings": (
        {"optimizer": "adamw", "weight_decay": 0.5, "beta_1": 0.6, "beta_2": 0.7, "epsilon": 1e-3},
        ("adamw", {"weight_decay": 0.5, "beta_1": 0.6, "beta_2": 0.7, "epsilon": 1e-3}),
    ),
    "sgd_decay": (
        {"optimizer": "sgd", "weight_decay": 0.2},
        ("sgd", {"weight_decay": 0.2}),
    ),
    "nesterov_decay": (
        {"optimizer": "sgd", "weight_decay": 0.2, "momentum": 0.9, "nesterov": True},
        ("sgd", {"weight_decay": 0.2, "momentum": 0.9, "nesterov": True}),
    ),
}
# (Network.fit's schedule settings, the reference's schedule_lrs settings)
SCHEDULES = {
    "constant": ({}, ("constant", {})),
    "cosine": ({"schedule": "cosine"}, ("cosine", {})),
    "cosine_t_max": ({"schedule": "cosine", "t_max": 2}, ("cosine", {"t_max": 2})),
    "step": (
        {"schedule": "step", "step_size": 2, "gamma": 0.5},
        ("step", {"step_size": 2, "gamma": 0.5}),
    ),
    "one_cycle": ({"schedule": "one_cycle"}, ("one_cycle", {})),
    "warmup_cosine": ({"schedule": "cosine", "warmup": 2}, ("cosine", {"warmup": 2})),
    "warmup_constant": ({"warmup": 3}, ("constant", {"warmup": 3})),
    "warmup_one_cycle": (
        {"schedule": "one_cycle", "warmup": 1},
        ("one_cycle", {"warmup": 1}),
    ),
}


def problem(sizes, n, dtype="float64", seed=0):
    r = np.random.default_rng(seed)
    X = r.normal(size=(n, sizes[0])).astype(dtype)
    y = r.normal(size=(n, sizes[-1])).astype(dtype)
    net = Network(sizes, ["tanh", "identity"], "mean_squared_error", dtype, seed=seed)
    return net, X, y


def reference_of(net):
    model = reference.mlp.from_names(
        net.layer_sizes, net.activations, net.loss_name, np.dtype(net.dtype).name
    )
    model.set_weights(net.get_weights())
    return model


def assert_close(net, model, dtype):
    rtol, atol = (1e-11, 1e-13) if dtype == "float64" else (2e-5, 1e-6)
    for k, (W, b) in enumerate(net.get_weights(), 1):
        np.testing.assert_allclose(W, model.W[k], rtol=rtol, atol=atol)
        np.testing.assert_allclose(b, model.b[k], rtol=rtol, atol=atol)


@pytest.mark.parametrize("engine", list(ENGINES))
@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_optimizers_match_the_reference(engine, optimizer, dtype):
    """Three epochs of minibatches in order, from the same weights: the same weights.

    In float32, AdamW runs with ε = 1e-3: with 1e-8, a weight whose gradient is rounding
    noise (sums in another order than NumPy's) steps by about ±η all the same, as Adam's
    steps are normalized; with ε = 1e-3 a step is a smooth function of its gradient."""
    sizes, n, batch = ENGINES[engine]
    net, X, y = problem(sizes, n, dtype)
    model = reference_of(net)
    settings, (name, ref_settings) = OPTIMIZERS[optimizer]
    if name == "adamw" and dtype == "float32":
        settings, ref_settings = {**settings, "epsilon": 1e-3}, {**ref_settings, "epsilon": 1e-3}
    lr = 0.01 if name == "adamw" else 0.05
    net.fit(X, y, epochs=3, learning_rate=lr, batch_size=batch, shuffle=False, **settings)
    lrs = reference.schedule_lrs("constant", lr, 3, math.ceil(n / batch))
    reference.train(model, X, y, lrs, batch, name, ref_settings)
    assert_close(net, model, dtype)


@pytest.mark.parametrize("schedule", list(SCHEDULES))
@pytest.mark.parametrize("optimizer", ["adamw", "nesterov_decay"])
@pytest.mark.parametrize("engine", ["feature_major", "row_major"])
def test_schedules_match_the_reference(schedule, optimizer, engine):
    """Each batch steps by the schedule's step size (one_cycle's by batch), for AdamW and
    for SGD (whose momentum is scikit-learn's, v = μv − ηg, so the step sizes enter v)."""
    sizes, n, batch = ENGINES[engine]
    net, X, y = problem(sizes, n)
    model = reference_of(net)
    settings, (name, ref_settings) = OPTIMIZERS[optimizer]
    fit_schedule, (ref_name, ref_schedule) = SCHEDULES[schedule]
    epochs, batches = 6, math.ceil(n / batch)
    net.fit(
        X,
        y,
        epochs=epochs,
        learning_rate=0.02,
        batch_size=batch,
        shuffle=False,
        **settings,
        **fit_schedule,
    )
    lrs = reference.schedule_lrs(ref_name, 0.02, epochs, batches, **ref_schedule)
    reference.train(model, X, y, lrs, batch, name, ref_settings)
    assert_close(net, model, "float64")
    np.testing.assert_allclose(net.history_["learning_rate"], lrs[:, 0], rtol=1e-15)


@pytest.mark.parametrize("optimizer", ["adam", "adamw", "sgd", "momentum"])
@pytest.mark.parametrize("schedule", ["cosine", "step", "warmup_cosine"])
def test_epoch_schedules_are_fits_of_one_epoch_at_each_step_size(optimizer, schedule):
    """An epoch-wise schedule takes the steps of one-epoch fits at its step sizes (the
    optimizer's state kept between them): for scikit-learn's Adam too, which today's
    schedules reach; and a callable learning rate giving those step sizes is the same."""
    net, X, y = problem([3, 5, 2], 16)
    by_epoch, by_callable = copy.deepcopy(net), copy.deepcopy(net)
    settings = {
        "adam": {"optimizer": "adam"},
        "adamw": {"optimizer": "adamw", "weight_decay": 0.1},
        "sgd": {"weight_decay": 0.1},
        "momentum": {"momentum": 0.9},
    }[optimizer]
    fit_schedule, (ref_name, ref_schedule) = SCHEDULES[schedule]
    common = dict(batch_size=4, shuffle=False, **settings)
    net.fit(X, y, epochs=5, learning_rate=0.05, **common, **fit_schedule)
    lrs = reference.schedule_lrs(ref_name, 0.05, 5, 4, **ref_schedule)[:, 0]
    for lr in lrs:
        by_epoch.fit(X, y, epochs=1, learning_rate=lr, **common)
    asked = []

    def rate(epoch):
        asked.append(epoch)
        return lrs[epoch]

    by_callable.fit(X, y, epochs=5, learning_rate=rate, **common)
    assert asked == [0, 1, 2, 3, 4]
    assert net.history_["learning_rate"] == by_callable.history_["learning_rate"] == list(lrs)
    for other in (by_epoch, by_callable):
        for (W, b), (W2, b2) in zip(net.get_weights(), other.get_weights()):
            np.testing.assert_array_equal(W, W2)
            np.testing.assert_array_equal(b, b2)


def test_defaults_are_unchanged():
    """weight_decay=0, warmup=0 and "constant" take exactly the steps they took before
    these existed: SGD's decay loop is not run at 0 (not even ``g + 0 * W``)."""
    net, X, y = problem([3, 5, 2], 16)
    a, b = copy.deepcopy(net), copy.deepcopy(net)
    a.fit(X, y, epochs=3, learning_rate=0.05, batch_size=4, seed=0, momentum=0.9)
    b.fit(
        X,
        y,
        epochs=3,
        learning_rate=0.05,
        batch_size=4,
        seed=0,
        momentum=0.9,
        weight_decay=0.0,
        warmup=0,
        schedule="constant",
        gamma=0.5,
        t_max=3,
    )
    assert a.to_bytes() == b.to_bytes()


def test_biases_are_not_decayed():
    """With zero gradients, AdamW only decays (W ← W(1 − ηλ) each step) and SGD's decay is
    the gradient λW; the biases stay as they are."""
    net = Network([2, 3], ["identity"], "mean_squared_error", seed=0)
    X = np.zeros((4, 2))
    W, b = net.get_weights()[0]
    net.set_weights([(W, b)])
    y = np.tile(b, (4, 1))  # ŷ = b: zero gradients
    net.fit(X, y, epochs=3, learning_rate=0.1, optimizer="adamw", weight_decay=0.5)
    W2, b2 = net.get_weights()[0]
    np.testing.assert_array_equal(b2, b)
    np.testing.assert_allclose(W2, W * (1 - 0.05) ** 3, rtol=1e-15)
    net.set_weights([(W, b)])
    net.fit(X, y, epochs=3, learning_rate=0.1, weight_decay=0.5)
    W3, b3 = net.get_weights()[0]
    np.testing.assert_array_equal(b3, b)
    np.testing.assert_allclose(W3, W * (1 - 0.05) ** 3, rtol=1e-15)


def test_adamw_without_decay_is_adam_but_for_epsilon():
    """One step from the same weights: AdamW (PyTorch's ε) and Adam (scikit-learn's) differ
    by about ε relative, and not at all with a tiny ε."""
    net, X, y = problem([3, 5, 2], 16)
    steps = {}
    for name, eps in [("adam", 1e-8), ("adamw", 1e-8), ("adam", 1e-300), ("adamw", 1e-300)]:
        other = copy.deepcopy(net)
        other.fit(X, y, epochs=1, learning_rate=0.01, optimizer=name, epsilon=eps)
        steps[name, eps] = np.concatenate([W.ravel() for W, _ in other.get_weights()])
    start = np.concatenate([W.ravel() for W, _ in net.get_weights()])
    gap = np.abs(steps["adam", 1e-8] - steps["adamw", 1e-8]).max()
    assert 1e-11 < gap < 1e-6, gap  # about η ε / |g| (η = 0.01)
    np.testing.assert_allclose(steps["adam", 1e-300] - start, steps["adamw", 1e-300] - start)


def test_one_cycle_steps_by_batch_and_keeps_its_last_step_size():
    """History records each epoch's first step size: one_cycle's moves within epochs;
    past ``t_max`` it stays at the last."""
    net, X, y = problem([3, 5, 2], 16)
    net.fit(X, y, epochs=5, learning_rate=0.1, batch_size=4, schedule="one_cycle", t_max=3)
    lrs = reference.schedule_lrs("one_cycle", 0.1, 5, 4, t_max=3)
    np.testing.assert_allclose(net.history_["learning_rate"], lrs[:, 0], rtol=1e-15)
    assert lrs[3, 0] == lrs[4, 3] == reference.one_cycle_lr(0.1, 11, 12)


def test_cosine_past_t_max_rises_as_pytorchs_formula():
    net, X, y = problem([3, 5, 2], 16)
    net.fit(X, y, epochs=9, learning_rate=0.1, schedule="cosine", t_max=4)
    lrs = net.history_["learning_rate"]
    assert lrs[4] == 0.0 and lrs[0] == 0.1
    np.testing.assert_allclose(lrs[5:], lrs[3:0:-1] + [0.1], rtol=1e-14)


# -- the callable learning rate -------------------------------------------------------


class Oops(Exception):
    pass


def test_a_callable_that_raises_ends_training_with_its_exception():
    net, X, y = problem([3, 5, 2], 16)
    weights = []

    def rate(epoch):
        if epoch == 2:
            raise Oops("no rate for epoch 2")
        return 0.1

    with pytest.raises(Oops, match="no rate for epoch 2"):
        net.fit(
            X, y, epochs=5, learning_rate=rate, callback=lambda epoch, loss: weights.append(epoch)
        )
    assert weights == [1, 2]  # two epochs ran; the weights are theirs
    twice, _, _ = problem([3, 5, 2], 16)
    twice.fit(X, y, epochs=2, learning_rate=0.1)
    assert net.to_bytes() == twice.to_bytes()


@pytest.mark.parametrize(
    ("value", "error", "match"),
    [
        (float("nan"), ValueError, r"^learning_rate \(a callable\) must return a finite, "),
        (math.inf, ValueError, "got inf for epoch 1"),
        (-0.1, ValueError, "non-negative step size, got -0.1 for epoch 1"),
        ("0.1", TypeError, r"must return a real number, got str '0.1' for epoch 1"),
        (None, TypeError, "got NoneType None"),
        (True, TypeError, "got bool True"),
        (np.array([0.1, 0.2]), TypeError, "got ndarray"),
    ],
)
def test_a_callable_returning_a_bad_value_is_refused(value, error, match):
    net, X, y = problem([3, 5, 2], 16)
    before = copy.deepcopy(net)
    with pytest.raises(error, match=match):
        net.fit(X, y, epochs=3, learning_rate=lambda e: 0.1 if e == 0 else value)
    after_one = copy.deepcopy(before)
    after_one.fit(X, y, epochs=1, learning_rate=0.1)
    assert net.to_bytes() == after_one.to_bytes()  # the first epoch's weights


def test_a_callable_may_return_zero_and_numpy_numbers():
    net, X, y = problem([3, 5, 2], 16)
    start = net.to_bytes()
    net.fit(X, y, epochs=2, learning_rate=lambda e: 0)
    assert net.history_["learning_rate"] == [0.0, 0.0]
    assert Network.from_bytes(start).get_weights()[0][0].tolist() == (
        net.get_weights()[0][0].tolist()
    )
    net.fit(X, y, epochs=2, learning_rate=lambda e: np.float32(0.5) / (e + 1))
    assert net.history_["learning_rate"] == [0.5, 0.25]


def test_a_callable_runs_on_the_pool_engine_too():
    """A network whose epochs run on ferroprop's pool asks the callable between epochs, on
    the calling thread."""
    import threading

    net, X, y = problem([96, 384, 3], 256)
    threads = set()

    def rate(epoch):
        threads.add(threading.get_ident())
        return 0.01

    net.fit(X, y, epochs=3, learning_rate=rate, batch_size=256)
    assert threads == {threading.get_ident()}


# -- bad settings --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (
            dict(weight_decay=-1.0),
            ValueError,
            r"^weight_decay must be non-negative and finite, got -1.0$",
        ),
        (
            dict(weight_decay=math.nan, optimizer="adamw"),
            ValueError,
            "^weight_decay must be non-negative and finite, got nan$",
        ),
        (
            dict(weight_decay=0.1, optimizer="adam"),
            ValueError,
            "^weight_decay must be 0 with optimizer 'adam'",
        ),
        (dict(weight_decay="0.1"), TypeError, "weight_decay must be a real number"),
        (dict(schedule="step"), ValueError, "^step_size must be given with schedule 'step'"),
        (dict(schedule="step", step_size=0), ValueError, "^step_size must be at least 1, got 0$"),
        (dict(step_size=-2), ValueError, "^step_size must be at least 1, got -2$"),
        (dict(step_size=1.5), TypeError, "step_size must be an integer"),
        (dict(gamma=0.0), ValueError, "^gamma must be positive and finite, got 0.0$"),
        (dict(gamma=math.inf, schedule="step", step_size=2), ValueError, "^gamma must be positive"),
        (dict(warmup=-1), ValueError, "^warmup must be at least 0, got -1$"),
        (dict(warmup=True), TypeError, "warmup must be an integer"),
        (dict(t_max=0, schedule="cosine"), ValueError, "^t_max must be at least 1, got 0$"),
        (dict(t_max=0), ValueError, "^t_max must be at least 1, got 0$"),
        (dict(schedule="cosine_restarts"), ValueError, "^unknown schedule 'cosine_restarts'"),
        (dict(optimizer="AdamW "), ValueError, "'sgd', 'adam', 'adamw'"),
        (
            dict(learning_rate=lambda e: 0.1, schedule="cosine"),
            ValueError,
            "^schedule must be 'constant' with a callable learning_rate",
        ),
        (
            dict(learning_rate=lambda e: 0.1, warmup=2),
            ValueError,
            "^warmup must be 0 with a callable learning_rate",
        ),
        (dict(learning_rate="0.1"), TypeError, "learning_rate must be a real number"),
    ],
)
def test_bad_settings_are_refused_before_training(kwargs, error, match):
    net, X, y = problem([3, 5, 2], 16)
    before = net.to_bytes()
    with pytest.raises(error, match=match):
        net.fit(X, y, **{"epochs": 2, **kwargs})
    assert net.to_bytes() == before


def test_schedules_work_with_every_optimizer():
    net, X, y = problem([3, 5, 2], 16)
    for optimizer in ["sgd", "adam", "adamw"]:
        for schedule in ["invscaling", "adaptive", "cosine", "one_cycle"]:
            losses = copy.deepcopy(net).fit(
                X, y, epochs=3, learning_rate=0.01, optimizer=optimizer, schedule=schedule
            )
            assert len(losses) == 3 and all(np.isfinite(losses))


# -- files -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "settings",
    [
        {"optimizer": "adamw", "weight_decay": 0.1},
        {"optimizer": "sgd", "weight_decay": 0.1, "momentum": 0.5},
    ],
)
def test_state_round_trips_and_training_continues(tmp_path, settings):
    net, X, y = problem([3, 5, 2], 16)
    whole = copy.deepcopy(net)
    whole.fit(X, y, epochs=4, learning_rate=0.01, batch_size=4, shuffle=False, **settings)
    net.fit(X, y, epochs=2, learning_rate=0.01, batch_size=4, shuffle=False, **settings)
    net.save(tmp_path / "m.safetensors", optimizer_state=True)
    for loaded in (Network.load(tmp_path / "m.safetensors"), pickle.loads(pickle.dumps(net))):
        loaded.fit(X, y, epochs=2, learning_rate=0.01, batch_size=4, shuffle=False, **settings)
        assert loaded.to_bytes() == whole.to_bytes()


def _metadata(data):
    import json
    import struct

    (length,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8 : 8 + length])["__metadata__"]


def test_files_name_the_optimizer_and_its_decay():
    net, X, y = problem([3, 5, 2], 16)
    net.fit(X, y, epochs=1, optimizer="adamw", weight_decay=0.25, beta_1=0.5)
    meta = _metadata(net.to_bytes())
    assert meta["optimizer"] == "adamw"
    assert (meta["optimizer.weight_decay"], meta["optimizer.beta_1"]) == ("0.25", "0.5")
    net.fit(X, y, epochs=1, momentum=0.5)
    assert "optimizer.weight_decay" not in _metadata(net.to_bytes())  # as files before it
    net.fit(X, y, epochs=1, momentum=0.5, weight_decay=0.125)
    assert _metadata(net.to_bytes())["optimizer.weight_decay"] == "0.125"


def test_a_file_of_adamw_without_its_decay_is_refused():
    import json
    import struct

    net, X, y = problem([3, 5, 2], 16)
    net.fit(X, y, epochs=1, optimizer="adamw", weight_decay=0.25)
    data = net.to_bytes()
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + length])
    for change in [
        lambda m: m.pop("optimizer.weight_decay"),
        lambda m: m.update({"optimizer.weight_decay": "-1"}),
        lambda m: m.update({"optimizer": "adam"}),  # adam has no weight decay
    ]:
        edited = json.loads(json.dumps(header))
        change(edited["__metadata__"])
        text = json.dumps(edited).encode()
        text += b" " * (-len(text) % 8)
        bad = struct.pack("<Q", len(text)) + text + data[8 + length :]
        with pytest.raises(ValueError, match="weight_decay"):
            Network.from_bytes(bad)


# -- the estimators --------------------------------------------------------------------


def _glorot(random_state, sizes):
    r = np.random.RandomState(random_state)
    weights = []
    for fan_in, fan_out in zip(sizes, sizes[1:]):
        bound = np.sqrt(6.0 / (fan_in + fan_out))
        weights.append(
            (r.uniform(-bound, bound, (fan_in, fan_out)), r.uniform(-bound, bound, fan_out))
        )
    return weights


def test_estimator_adamw_takes_network_fits_steps():
    """A binary classifier's gradient is ferroprop's (g = 1): solver="adamw" takes the steps
    of Network.fit's AdamW from scikit-learn's initial weights."""
    sklearn = pytest.importorskip("sklearn")
    del sklearn
    from ferroprop.sklearn import MLPClassifier

    X = rng.normal(size=(40, 4))
    y = (X[:, 0] > 0).astype(int)
    settings = dict(learning_rate_init=0.01, weight_decay=0.1, beta_1=0.8, epsilon=1e-6)
    clf = MLPClassifier(
        (6,),
        solver="adamw",
        alpha=0.0,
        batch_size=10,
        shuffle=False,
        max_iter=4,
        n_iter_no_change=np.inf,
        random_state=3,
        learning_rate="cosine",
        warmup=1,
        **settings,
    )
    with pytest.warns(Warning, match="Maximum iterations"):
        clf.fit(X, y)
    net = Network([4, 6, 1], ["relu", "sigmoid"], "binary_cross_entropy", seed=0)
    net.set_weights(_glorot(3, [4, 6, 1]))
    net.fit(
        X,
        y.reshape(-1, 1).astype(float),
        epochs=4,
        learning_rate=0.01,
        batch_size=10,
        shuffle=False,
        optimizer="adamw",
        weight_decay=0.1,
        beta_1=0.8,
        epsilon=1e-6,
        schedule="cosine",
        warmup=1,
    )
    for (W, b), W2, b2 in zip(net.get_weights(), clf.coefs_, clf.intercepts_):
        np.testing.assert_array_equal(W, W2)
        np.testing.assert_array_equal(b, b2)


@pytest.mark.parametrize("estimator", ["classifier", "regressor"])
def test_estimator_sgd_weight_decay_is_an_l2_penalty_of_the_batch_size(estimator):
    """In scikit-learn's units, SGD's weight decay λ adds λW to the gradient: what alpha =
    λ · batch_size adds (batches of equal size): the same weights, up to rounding."""
    pytest.importorskip("sklearn")
    from ferroprop.sklearn import MLPClassifier, MLPRegressor

    X = rng.normal(size=(40, 3))
    if estimator == "classifier":
        cls, Y = MLPClassifier, (X[:, :2] > 0).astype(int)  # multilabel: g = 2
    else:
        cls, Y = MLPRegressor, X[:, :2] * 3.0  # two outputs: g = 1
    common = dict(
        hidden_layer_sizes=(5,),
        solver="sgd",
        batch_size=8,
        shuffle=False,
        max_iter=5,
        n_iter_no_change=np.inf,
        random_state=0,
        momentum=0.5,
        learning_rate_init=0.05,
    )
    with pytest.warns(Warning, match="Maximum iterations"):
        decayed = cls(alpha=0.0, weight_decay=0.01, **common).fit(X, Y)
    with pytest.warns(Warning, match="Maximum iterations"):
        penalized = cls(alpha=0.01 * 8, **common).fit(X, Y)
    for a, b in zip(decayed.coefs_ + decayed.intercepts_, penalized.coefs_ + penalized.intercepts_):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def test_estimator_schedules_continue_over_partial_fit():
    """partial_fit's epochs continue PyTorch's schedules (t_max: max_iter − warmup); each
    fit starts them afresh; scikit-learn's Adam still ignores scikit-learn's schedules."""
    pytest.importorskip("sklearn")
    from ferroprop.sklearn import MLPRegressor

    X = rng.normal(size=(30, 3))
    y = X.sum(axis=1)
    est = MLPRegressor(
        hidden_layer_sizes=(4,), learning_rate="cosine", max_iter=5, warmup=1, random_state=0
    )
    seen = []
    for _ in range(4):
        est.partial_fit(X, y)
        seen += est._network.history_["learning_rate"]
    want = reference.schedule_lrs("cosine", 0.001, 4, 1, warmup=1, t_max=4)[:, 0]
    np.testing.assert_allclose(seen, want, rtol=1e-15)
    with pytest.warns(Warning):
        est.set_params(max_iter=3).fit(X, y)
    want = reference.schedule_lrs("cosine", 0.001, 3, 1, warmup=1)[:, 0]
    np.testing.assert_allclose(est._network.history_["learning_rate"], want, rtol=1e-15)
    with pytest.warns(Warning):
        est.set_params(learning_rate="invscaling").fit(X, y)  # Adam: a warm-up, then constant
    assert est._network.history_["learning_rate"] == [0.0005, 0.001, 0.001]
    with pytest.raises(ValueError, match="^warmup must be 0 with a callable"):
        est.set_params(learning_rate=lambda e: 0.01 / (e + 1)).fit(X, y)
    with pytest.warns(Warning):
        est.set_params(warmup=0).fit(X, y)
    assert est._network.history_["learning_rate"] == [0.01, 0.005, 0.01 / 3]


def test_estimator_defaults_and_bad_settings():
    pytest.importorskip("sklearn")
    from sklearn.utils._param_validation import InvalidParameterError

    from ferroprop.sklearn import MLPClassifier

    X = rng.normal(size=(30, 3))
    y = (X[:, 0] > 0).astype(int)
    params = MLPClassifier().get_params()
    assert (params["weight_decay"], params["warmup"], params["t_max"]) == (0.0, 0, None)
    assert (params["step_size"], params["gamma"]) == (None, 0.1)
    a = MLPClassifier((4,), max_iter=3, random_state=0)
    b = MLPClassifier((4,), max_iter=3, random_state=0, weight_decay=0.0, gamma=0.5)
    with pytest.warns(Warning):
        a.fit(X, y)
    with pytest.warns(Warning):
        b.fit(X, y)
    assert a._network.to_bytes() == b._network.to_bytes()
    for kwargs, error, match in [
        (dict(weight_decay=-1.0), InvalidParameterError, "weight_decay"),
        (dict(warmup=-1), InvalidParameterError, "warmup"),
        (dict(step_size=0), InvalidParameterError, "step_size"),
        (dict(learning_rate="cosine_restarts"), InvalidParameterError, "learning_rate"),
        (dict(solver="adamW"), InvalidParameterError, "solver"),
        (dict(weight_decay=0.1), ValueError, "weight_decay must be 0 with optimizer 'adam'"),
        (
            dict(weight_decay=0.1, solver="lbfgs"),
            ValueError,
            "weight_decay must be 0 with solver='lbfgs'",
        ),
        (dict(learning_rate="step"), ValueError, "step_size must be given"),
    ]:
        with pytest.raises(error, match=match):
            MLPClassifier((4,), max_iter=2, **kwargs).fit(X, y)


def test_estimator_adamw_partial_fit_continues_after_pickling():
    """partial_fit keeps AdamW's moments and step count, and the schedule's epochs, in the
    estimator: a pickled copy continues exactly as the original."""
    pytest.importorskip("sklearn")
    from ferroprop.sklearn import MLPRegressor

    X = rng.normal(size=(30, 3))
    y = X.sum(axis=1)
    est = MLPRegressor(
        hidden_layer_sizes=(4,),
        solver="adamw",
        weight_decay=0.1,
        learning_rate="one_cycle",
        max_iter=4,
        random_state=0,
        batch_size=10,
    )
    est.partial_fit(X, y)
    copy_ = pickle.loads(pickle.dumps(est))
    for model in (est, copy_):
        model.partial_fit(X, y)
        model.partial_fit(X, y)
    assert est._network.to_bytes() == copy_._network.to_bytes()
    want = reference.schedule_lrs("one_cycle", 0.001, 4, 3)[2, 0]
    assert est._network.history_["learning_rate"] == [want]
