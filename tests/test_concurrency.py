"""Concurrency under hostile use: no deadlock whatever mix of calls runs on whatever
networks and thread counts, a forked child works, and calls that would be silently undone
by a running `fit` raise instead.

Each stress scenario runs in its own process with a time limit, so that a deadlock fails
the test instead of hanging the suite; the limits are far above the scenarios' normal run
times (about a second each), they assert no speed."""

import multiprocessing
import os
import pickle
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

from ferroprop import Network

# The work of one stress scenario: several networks, each used by several threads at once
# (fits with and without callbacks, predicts, step-API calls, saves, pickles, set_weights).
STRESS = textwrap.dedent(
    """
    import os, pickle, sys, tempfile, threading
    import numpy as np
    from ferroprop import Network

    seed = int(sys.argv[1])
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((512, 64))
    Y = np.eye(10)[rng.integers(0, 10, 512)]
    nets = [
        Network([64, 256, 10], ["relu", "softmax"], "cross_entropy", seed=0),
        Network([64, 96, 96, 10], ["tanh", "relu", "softmax"], "cross_entropy", seed=1),
        Network([64, 8, 10], ["relu", "softmax"], "cross_entropy", seed=2),
    ]
    folder = tempfile.mkdtemp()
    errors = []
    refused = []

    def guarded(f):
        def run(*args):
            try:
                f(*args)
            except RuntimeError as e:  # a change refused while fit trains the network
                if "while fit is training" not in str(e) and "already running" not in str(e):
                    errors.append(repr(e))
                refused.append(1)
            except Exception as e:
                errors.append(repr(e))
        return run

    @guarded
    def fit(k, with_callback):
        other = nets[(k + 1) % len(nets)]
        def callback(epoch, loss):
            assert np.isfinite(other.predict(X[:64])).all()
            other.get_weights()
        nets[k].fit(X, Y, epochs=40, learning_rate=0.05, batch_size=128,
                    callback=callback if with_callback else None)

    @guarded
    def predict(k):
        for _ in range(60):
            assert np.isfinite(nets[k].predict(X)).all()

    @guarded
    def step(k):
        for _ in range(3):
            nets[k].forward(X[:128])
            try:
                nets[k].backward(Y[:128])
                nets[k].update(0.01)
            except ValueError as e:  # another thread changed the weights in between
                if "forward" not in str(e):
                    raise

    @guarded
    def save_and_pickle(k):
        for i in range(3):
            nets[k].save(os.path.join(folder, f"{k}-{threading.get_ident()}-{i}.safetensors"))
            pickle.loads(pickle.dumps(nets[k])).predict(X[:8])

    @guarded
    def set_weights(k):
        for _ in range(3):
            nets[k].set_weights(nets[k].get_weights())

    jobs = []
    for k in range(len(nets)):
        jobs += [(fit, (k, k % 2 == 0)), (predict, (k,)), (predict, (k,)), (step, (k,)),
                 (save_and_pickle, (k,)), (set_weights, (k,))]
    order = rng.permutation(len(jobs))
    threads = [threading.Thread(target=jobs[i][0], args=jobs[i][1]) for i in order]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for net in nets:
        assert np.isfinite(net.predict(X)).all()
    print("errors:", errors)
    sys.exit(1 if errors else 0)
    """
)


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_mixed_calls_on_shared_networks_never_deadlock(threads):
    env = dict(os.environ, FERROPROP_NUM_THREADS=str(threads))
    for seed in range(4):
        try:
            run = subprocess.run(
                [sys.executable, "-c", STRESS, str(seed)],
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )
        except subprocess.TimeoutExpired:
            pytest.fail(f"deadlock: scenario {seed} with {threads} threads did not finish")
        assert run.returncode == 0, run.stdout + run.stderr


def test_the_reported_deadlock_with_one_rayon_thread():
    """Two fits and two predicting threads on the same two networks (the report's case),
    with rayon's global pool at one thread: ferroprop's pool is its own."""
    code = textwrap.dedent(
        """
        import threading, numpy as np
        from ferroprop import Network
        rng = np.random.default_rng(0)
        X = rng.standard_normal((1024, 64)); Y = np.eye(10)[rng.integers(0, 10, 1024)]
        nets = [Network([64, 256, 10], ["relu", "softmax"], "cross_entropy", seed=i)
                for i in range(2)]
        fits = [threading.Thread(target=n.fit, args=(X, Y),
                                 kwargs=dict(epochs=150, learning_rate=0.1, batch_size=128))
                for n in nets]
        preds = [threading.Thread(target=lambda n=n: [n.predict(X) for _ in range(150)])
                 for n in nets]
        for t in fits + preds: t.start()
        for t in fits + preds: t.join()
        """
    )
    env = dict(os.environ, RAYON_NUM_THREADS="1", FERROPROP_NUM_THREADS="2")
    run = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr


# Module level, so that a fork child finds them.
_rng = np.random.default_rng(0)
_X = _rng.standard_normal((512, 64))
_Y = np.eye(10)[_rng.integers(0, 10, 512)]
_NET = Network([64, 256, 10], ["relu", "softmax"], "cross_entropy", seed=0)


def _predict_in_child(_):
    return _NET.predict(_X)


def _fit_in_child(seed):
    net = Network([64, 256, 10], ["relu", "softmax"], "cross_entropy", seed=seed)
    losses = net.fit(_X, _Y, epochs=2, learning_rate=0.1, batch_size=128, seed=seed)
    return losses, net.predict(_X[:16])


@pytest.mark.skipif(
    "fork" not in multiprocessing.get_all_start_methods(), reason="no fork on this platform"
)
def test_forked_children_predict_and_fit_after_the_parent_used_the_pool():
    expected = _NET.predict(_X)  # the parent's pool has run threaded products
    assert np.array_equal(_predict_in_child(0), expected)
    want = [_fit_in_child(s) for s in range(2)]
    context = multiprocessing.get_context("fork")
    with context.Pool(2) as pool:
        got = pool.map_async(_predict_in_child, range(4)).get(timeout=120)
        fits = pool.map_async(_fit_in_child, range(2)).get(timeout=120)
    assert all(np.array_equal(g, expected) for g in got)
    for (losses, yhat), (want_losses, want_yhat) in zip(fits, want):
        assert losses == want_losses
        assert np.array_equal(yhat, want_yhat)


def _small():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((50, 3))
    Y = (rng.random((50, 1)) > 0.5) * 1.0
    return Network([3, 5, 1], ["relu", "sigmoid"], "binary_cross_entropy", seed=0), X, Y


CHANGES = {
    "set_weights": lambda net, X, Y: net.set_weights(net.get_weights()),
    "layer W": lambda net, X, Y: setattr(net.layers[0], "W", net.layers[0].W),
    "forward": lambda net, X, Y: net.forward(X),
    "backward": lambda net, X, Y: net.backward(Y),
    "update": lambda net, X, Y: net.update(0.1),
    "reset_optimizer": lambda net, X, Y: net.reset_optimizer(),
    "fit": lambda net, X, Y: net.fit(X, Y, epochs=1, learning_rate=0.1),
}


@pytest.mark.parametrize("name", list(CHANGES))
def test_changes_from_fits_callback_raise_instead_of_being_undone(name):
    net, X, Y = _small()
    net.forward(X)  # so that backward has a pass to work from
    seen = []

    def callback(epoch, loss):
        with pytest.raises(RuntimeError, match="while fit is training|already running"):
            CHANGES[name](net, X, Y)
        # Reads work and see the epoch just published.
        seen.append(net.predict(X))
        return epoch >= 3

    net.fit(X, Y, epochs=10, learning_rate=0.1, callback=callback)
    assert len(seen) == 3 and np.array_equal(seen[-1], net.predict(X))
    # After fit, the same call works (the step API's order kept: fit changed the weights).
    if name in ("backward", "update"):
        net.forward(X)
    if name == "update":
        net.backward(Y)
    CHANGES[name](net, X, Y)


def test_changes_from_another_thread_during_fit_raise_and_reads_work():
    net, X, Y = _small()
    started, release = threading.Event(), threading.Event()

    def callback(epoch, loss):
        started.set()
        release.wait(30)
        return True

    t = threading.Thread(
        target=net.fit, args=(X, Y), kwargs=dict(epochs=5, learning_rate=0.1, callback=callback)
    )
    t.start()
    try:
        assert started.wait(30)
        for name in ["set_weights", "forward", "update", "fit"]:
            with pytest.raises(RuntimeError):
                CHANGES[name](net, X, Y)
        assert np.isfinite(net.predict(X)).all()
        pickle.loads(pickle.dumps(net))
    finally:
        release.set()
        t.join()
    net.set_weights(net.get_weights())


@pytest.mark.parametrize("epochs", [2**62, 10**10])
def test_huge_epoch_counts_stopped_early_reserve_nothing(epochs):
    net, X, Y = _small()
    losses = net.fit(X, Y, epochs=epochs, learning_rate=0.1, callback=lambda e, loss: e >= 2)
    assert len(losses) == 2 and net.history_["stopped"] == "callback"
    net, X, Y = _small()
    losses = net.fit(X, Y, epochs=epochs, learning_rate=0.1, n_iter_no_change=2, tol=1e9)
    assert len(losses) == 4 and net.history_["stopped"] == "no_improvement"  # as scikit-learn


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_estimators_with_a_huge_max_iter_stop_early(solver):
    sklearn = pytest.importorskip("sklearn")
    from ferroprop.sklearn import MLPClassifier

    del sklearn
    _, X, Y = _small()
    clf = MLPClassifier(max_iter=2**62, n_iter_no_change=2, tol=1e9, solver=solver)
    clf.fit(X, Y.ravel())
    assert clf.n_iter_ == 4


def test_concurrent_predicts_of_different_sizes_get_their_own_rows():
    # A network keeps its last predict's buffers for the next; a predict that finds them
    # taken by another uses its own. Whichever it gets, larger or smaller than it needs,
    # every call returns exactly the serial result for its rows.
    net = Network([20, 300, 300, 3], ["relu", "tanh", "softmax"], "cross_entropy")
    rng = np.random.default_rng(0)
    inputs = [rng.normal(size=(n, 20)) for n in (1, 7, 64, 900, 3000, 2)]
    expected = [net.predict(X) for X in inputs]
    failures = []

    def work(offset):
        for i in range(40):
            k = (i + offset) % len(inputs)
            if not np.array_equal(net.predict(inputs[k]), expected[k]):
                failures.append(k)

    threads = [threading.Thread(target=work, args=(o,)) for o in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
