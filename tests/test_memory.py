"""Running out of memory is a MemoryError, never an abort: each case runs in a subprocess
whose address space is limited (Linux's RLIMIT_AS) to a little more than it holds, then
asks for more. The network is left as it was, and works once memory is back."""

import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="RLIMIT_AS and /proc are Linux's"
)

PRELUDE = """
import resource
import numpy as np
from ferroprop import Network

# The thread pool and the allocator's arenas exist before the limit is set.
warm = Network([1, 4, 1], ["relu", "identity"], "mean_squared_error")
warm.fit(np.ones((4, 1)), np.ones((4, 1)), epochs=1)

def limit(extra_mib):
    for line in open("/proc/self/status"):
        if line.startswith("VmSize:"):
            size = int(line.split()[1]) * 1024
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (size + (extra_mib << 20), hard))

def unlimit():
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (hard, hard))

def expect_memory_error(call, what):
    try:
        call()
    except MemoryError as err:
        assert what in str(err), err
    else:
        raise AssertionError("no MemoryError")
"""


def run(body):
    code = PRELUDE + textwrap.dedent(body) + "\nprint('survived')\n"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0 and result.stdout.endswith("survived\n"), result.stderr[-3000:]


def test_construction():
    run(
        """
        limit(256)
        for dtype in ("float32", "float64"):
            expect_memory_error(
                lambda: Network([1, 2**27, 1], ["relu", "identity"], dtype=dtype),
                "out of memory: an array of shape",
            )
        """
    )


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_buffers_of_a_pass(dtype):
    # 2**22 units: the weights fit; a pass over 50 rows needs GiBs of z and a.
    run(
        f"""
        net = Network([1, 2**22, 1], ["relu", "identity"], "mean_squared_error", "{dtype}")
        before = net.get_weights()
        X, y = np.ones((50, 1)), np.ones((50, 1))
        limit(256)  # room for fit's copy of the weights, not for the pass
        shape = "an array of shape ({{}}, 4194304)"
        # predict and loss pass the rows through by at least 10 at a time
        expect_memory_error(lambda: net.predict(X), shape.format(10))
        expect_memory_error(lambda: net.forward(X), shape.format(50))
        expect_memory_error(lambda: net.loss(X, y), shape.format(10))
        expect_memory_error(lambda: net.loss_and_gradient(X, y), shape.format(50))
        expect_memory_error(lambda: net.gradient_check(X, y), "out of memory: ")  # its copy, or z
        for batch_size in (50, 10):
            fit = lambda: net.fit(X, y, epochs=1, batch_size=batch_size)
            expect_memory_error(fit, shape.format(batch_size))
        unlimit()
        for (W, b), (W0, b0) in zip(net.get_weights(), before):
            assert (W == W0).all() and (b == b0).all()
        assert np.isfinite(net.predict(X[:1])).all()
        """
    )


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_predict_holds_a_pass_not_the_whole_input(dtype):
    # 16384 rows through 16384 units: z and a of every row would be 4 GiB in float64 (2 in
    # float32); predict and loss pass 32 rows at a time, 8 MiB of buffers.
    run(
        f"""
        net = Network([1, 2**14, 1], ["tanh", "identity"], "mean_squared_error", "{dtype}")
        X = np.linspace(-1, 1, 2**14, dtype="{dtype}").reshape(-1, 1)
        y = np.zeros((2**14, 1), "{dtype}")
        limit(64)
        yhat = net.predict(X)
        assert yhat.shape == (2**14, 1) and np.isfinite(yhat).all()
        assert np.isfinite(net.loss(X, y))
        unlimit()
        assert np.array_equal(yhat[100:300], net.predict(X[100:300]))
        """
    )


def test_copies_of_the_weights():
    # 3 × 64 MiB of parameters, and room for less than one more array of them.
    run(
        """
        net = Network([1, 2**23, 1], ["relu", "identity"], "mean_squared_error")
        X, y = np.ones((1, 1)), np.ones((1, 1))
        limit(32)
        copy = "a copy of an array of shape (1, 8388608)"
        expect_memory_error(net.get_weights, copy)
        expect_memory_error(lambda: net.fit(X, y, epochs=1), copy)
        expect_memory_error(lambda: net.gradient_check(X, y), copy)
        unlimit()
        assert np.isfinite(net.predict(X)).all()
        """
    )


def test_optimizer_state():
    # 3 × 16 MiB of parameters: fit's copy of them fits, Adam's two moments do not.
    run(
        """
        net = Network([1, 2**21, 1], ["relu", "identity"], "mean_squared_error")
        X, y = np.ones((1, 1)), np.ones((1, 1))
        limit(80)
        expect_memory_error(
            lambda: net.fit(X, y, epochs=1, optimizer="adam"), "an array of shape"
        )
        unlimit()
        net.fit(X, y, epochs=1, optimizer="adam")
        """
    )


def test_an_epoch_bound_is_not_an_allocation():
    # epochs is a bound that a stopping rule may never reach: 2**40 of them fit no memory.
    run(
        """
        from ferroprop.sklearn import MLPRegressor
        net = Network([2, 3, 1], ["relu", "identity"], "mean_squared_error")
        X, y = np.zeros((8, 2)), np.zeros((8, 1))
        history = net.fit(X, y, epochs=2**40, n_iter_no_change=2, tol=1e9)
        assert len(history) == 4 and net.history_["stopped"] == "no_improvement"
        est = MLPRegressor(hidden_layer_sizes=(3,), max_iter=2**40, tol=1e9).fit(X, y[:, 0])
        assert est.n_iter_ < 20
        """
    )


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_copies_handed_to_python(dtype):
    # The arrays of `layers[k]`, forward's output, to_bytes and pickling copy what the
    # network holds: each copy is fallible too.
    run(
        f"""
        import pickle
        net = Network([1, 2**24, 1], ["relu", "identity"], "mean_squared_error", "{dtype}")
        net.forward(np.ones((2, 1)))
        limit(32)  # less than one copy of the first layer's W
        for name in ["W", "z", "a"]:
            expect_memory_error(lambda: getattr(net.layers[0], name), "a copy of an array")
        expect_memory_error(net.to_bytes, "out of memory")
        expect_memory_error(lambda: pickle.dumps(net), "out of memory")
        unlimit()
        assert net.layers[0].W.shape == (1, 2**24)
        assert pickle.loads(pickle.dumps(net)).layer_sizes == [1, 2**24, 1]
        """
    )
