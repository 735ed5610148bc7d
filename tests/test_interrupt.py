"""Ctrl-C stops a long fit with KeyboardInterrupt and leaves a usable network, both when
the training loop runs on the calling thread (small layers) and when it runs on a thread
of the matrix-product pool (large layers, several threads)."""

import os
import signal
import subprocess
import sys
import time

import pytest

SCRIPT = """
import sys, numpy as np
from ferroprop import Network
sizes = [int(s) for s in sys.argv[1].split(",")]
X = np.random.default_rng(0).normal(size=(2048, sizes[0]))
y = (X[:, 0] > 0).astype(float)
net = Network(sizes, ["relu"] * (len(sizes) - 2) + ["sigmoid"], "binary_cross_entropy", seed=0)
before = net.predict(X[:4])
print("ready", flush=True)
try:
    net.fit(X, y, epochs=10**7, learning_rate=1e-3, batch_size=256)
except KeyboardInterrupt:
    after = net.predict(X[:4])
    print("interrupted", after.shape, bool(np.isfinite(after).all()), flush=True)
    sys.exit(0)
print("fit ended without an interrupt", flush=True)
sys.exit(1)
"""


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child process is POSIX")
@pytest.mark.parametrize("sizes", ["2,8,1", "256,512,512,1"], ids=["calling-thread", "pool"])
def test_ctrl_c_interrupts_fit(sizes):
    env = {**os.environ, "FERROPROP_NUM_THREADS": "2"}
    child = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, sizes],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert child.stdout.readline().strip() == "ready"
    time.sleep(1.0)  # well inside fit, which would run for hours
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=60)
    assert child.returncode == 0, (out, err)
    assert out.strip() == "interrupted (4, 1) True", (out, err)
