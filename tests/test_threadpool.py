"""ferroprop's pool follows FERROPROP_NUM_THREADS, then OMP_NUM_THREADS (set by joblib and
Dask in their workers), and threadpoolctl sees and limits it."""

import os
import subprocess
import sys

import numpy as np
import pytest

import ferroprop
from ferroprop import Network

threadpoolctl = pytest.importorskip("threadpoolctl")


def _threads_in(env):
    code = "import ferroprop; print(ferroprop.get_num_threads())"
    run = subprocess.run(
        [sys.executable, "-c", code],
        env={**{k: v for k, v in os.environ.items() if not k.endswith("NUM_THREADS")}, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    return int(run.stdout)


def test_environment_sets_the_default():
    assert _threads_in({"OMP_NUM_THREADS": "1"}) == 1
    assert _threads_in({"FERROPROP_NUM_THREADS": "3", "OMP_NUM_THREADS": "1"}) == 3
    default = _threads_in({})  # the CPUs this process may use
    assert 1 <= default <= (os.cpu_count() or 1)
    assert _threads_in({"FERROPROP_NUM_THREADS": "junk", "OMP_NUM_THREADS": "0"}) == default


def _ferroprop_info():
    return [i for i in threadpoolctl.threadpool_info() if i["user_api"] == "ferroprop"]


def test_threadpoolctl_sees_and_limits_the_pool():
    (info,) = _ferroprop_info()
    assert info["internal_api"] == "ferroprop"
    assert info["num_threads"] == ferroprop.get_num_threads()
    assert info["version"] == ferroprop.__version__
    before = ferroprop.get_num_threads()
    with threadpoolctl.threadpool_limits(1):
        assert ferroprop.get_num_threads() == 1
        assert _ferroprop_info()[0]["num_threads"] == 1
    assert ferroprop.get_num_threads() == before
    with threadpoolctl.threadpool_limits(limits={"ferroprop": 1}):
        assert ferroprop.get_num_threads() == 1
    assert ferroprop.get_num_threads() == before


def test_limits_do_not_change_results():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((600, 64))
    Y = np.eye(10)[rng.integers(0, 10, 600)]

    def train():
        net = Network([64, 256, 256, 10], ["relu", "relu", "softmax"], "cross_entropy", seed=0)
        net.fit(X, Y, epochs=2, learning_rate=0.05, batch_size=128, seed=0)
        return net.get_weights()

    free = train()
    with threadpoolctl.threadpool_limits(1):
        limited = train()
    for (w1, b1), (w2, b2) in zip(free, limited):
        assert np.array_equal(w1, w2) and np.array_equal(b1, b2)


def test_set_num_threads_checks_its_argument():
    before = ferroprop.get_num_threads()
    for bad, error in [(0, ValueError), (-1, ValueError), (1.5, TypeError), (True, TypeError)]:
        with pytest.raises(error, match="threads"):
            ferroprop.set_num_threads(bad)
    assert ferroprop.get_num_threads() == before
    ferroprop.set_num_threads(10**6)
    assert ferroprop.get_num_threads() >= before
    ferroprop.set_num_threads(None)
    assert ferroprop.get_num_threads() == before


def _worker_threads(_):
    import ferroprop

    return ferroprop.get_num_threads()


def test_loky_workers_share_the_cores():
    joblib = pytest.importorskip("joblib")
    cpus = joblib.cpu_count()
    got = joblib.Parallel(n_jobs=2, backend="loky")(
        joblib.delayed(_worker_threads)(i) for i in range(2)
    )
    assert got == [max(1, cpus // 2)] * 2
