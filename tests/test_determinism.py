"""Same seed, same bits, whatever the number of matrix-product threads."""

import os
import subprocess
import sys

SCRIPT = """
import hashlib
import numpy as np
from ferroprop import Network
rng = np.random.default_rng(0)
X = rng.normal(size=(512, 96))
y = rng.integers(0, 10, 512)
net = Network([96, 384, 256, 10], ["relu", "tanh", "softmax"], "cross_entropy", seed=3)
net.fit(X, y, epochs=2, learning_rate=0.05, batch_size=256, optimizer="adam", seed=1)
print(hashlib.sha256(net.to_bytes()).hexdigest())
"""


def digest(threads):
    env = {**os.environ, "FERROPROP_NUM_THREADS": str(threads)}
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_fit_is_bit_identical_across_thread_counts():
    one = digest(1)
    assert one == digest(2) == digest(4)
    assert one == digest(1)  # and across runs
