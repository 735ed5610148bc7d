"""Side-by-side training benchmark: ferroprop against NumPy, scikit-learn and PyTorch.

This is a benchmark, not a test: it asserts nothing. Run it from the repository root with
the project's virtual environment::

    .venv/bin/python benches/compare.py            # full run: a few minutes
    .venv/bin/python benches/compare.py --quick    # smoke run: under a minute
    .venv/bin/python benches/compare.py --workloads tutorial,small --dtypes float32
    .venv/bin/python benches/compare.py --sweep --plot docs/sweep.png   # the grid below

Progress goes to stderr; the results (Markdown, ready to paste) go to stdout.

Methodology
-----------
Workloads (each in float64 and float32; learning rate 0.01, plain SGD)

- tutorial: [2, 4, 3, 1], relu/relu/sigmoid, binary cross-entropy, full batch, on
  ``make_circles(n_samples=1000, factor=0.5, noise=0.1, random_state=0)``;
- small: [2, 16, 16, 1], the same activations, loss and data, batches of 32;
- medium: [64, 256, 256, 10], relu/relu/softmax, cross-entropy, batches of 128, on 10 000
  standard-normal samples labelled by a fixed random linear teacher (``argmax(X @ T)``);
- large: [784, 1024, 1024, 10], as medium, batches of 256, 8192 samples.

Systems, each training the same network by minibatch SGD without momentum or weight
decay, with the same batch size, learning rate and number of epochs, rows in order (no
shuffling):

- ferroprop: ``Network.fit(optimizer="sgd", shuffle=False)``, the whole loop in Rust;
- NumPy: ``ferroprop.reference.mlp.fit``, the pure-NumPy reference;
- scikit-learn: ``MLPClassifier(solver="sgd", momentum=0, alpha=0, ...)``, early stopping
  disabled (``n_iter_no_change`` > epochs, ``tol=0``);
- PyTorch (optional): eager ``nn.Sequential`` on the CPU, the fused ``BCEWithLogitsLoss``
  or ``CrossEntropyLoss``, ``torch.optim.SGD``, a Python loop over pre-made minibatch
  tensors; measured with 1 thread and with every core, the faster one reported.

ferroprop, NumPy and PyTorch start from the same initial weights (those of
``Network(..., seed=0)``) and compute the same mean loss per epoch, so their final losses
agree: the detailed table shows them as a check that the systems do the same work.
scikit-learn draws its own initial weights. Every system computes the loss of every batch
(each reports a per-epoch training loss).

Timing. A measurement is one call training E epochs: ``fit`` for ferroprop, NumPy and
scikit-learn (so scikit-learn's input validation is included), the training loop for
PyTorch. Building the model and copying the weights in are not timed. E is chosen per
workload and dtype so that one ferroprop measurement takes at least ``--min-time``
seconds; time per epoch = measured time / E. For each workload and dtype, every system
first runs once untimed (on a few batches), then ``--repeats`` rounds follow; within a
round every system is measured once, round-robin, each round starting one system later,
so that machine noise hits all alike. Reported: the median over rounds. Before each
measurement the benchmark waits until the worker threads of the previous one stop
spinning (OpenBLAS's spin for ~0.1 s after a product); the garbage collector is off while
a measurement runs. "cpu/wall" is the process's CPU time over wall
time during a measurement: how many cores the system kept busy. NumPy, and so the
reference and scikit-learn, use their BLAS with its default number of threads. A safety
net for overloaded machines: a system whose warm-up says one measurement would last more
than ``--max-time`` seconds runs fewer epochs than ferroprop (marked † in the table).
The table ends with the load average at the start and the end of the run: numbers from
a machine that was busy with other work are noisy.

FLOPs. An epoch needs three matrix products per layer (forward ``z = a W``, backward
``dW = aᵀ dz`` and ``da = dz Wᵀ``) except ``da`` of the input layer, which no system
needs; at 2 FLOPs per multiply-add that is ``2 N (3 Σ_k n_{k-1} n_k − n_0 n_1)`` for N
samples (biases, activations, the loss and the update are not counted).
ferroprop's GFLOP/s is that over its time per epoch. The practical limit printed with it
is NumPy's ``A @ B`` on 1024 × 1024 matrices of the dtype (median of repeats), with every
thread and with one.

Sweep (``--sweep``): instead of the four workloads, a grid of networks [32, w, w, 10]
(relu, relu, softmax; cross-entropy; the teacher data, 4096 samples) for hidden widths w
in 4, 16, 64, 256, 1024 and batches of 16, 128 and the full batch, in each dtype, measured
as above (fewer rounds: ``--repeats`` defaults to 3). Each cell is the ratio of the best
alternative's time per epoch (NumPy, scikit-learn or PyTorch at its better thread count)
to ferroprop's: above 1, ferroprop is faster. ``--plot FILE`` draws the grid as a heatmap
(needs matplotlib).

Predict latency: one sample (a (1, n_inputs) array) in, the output array out, from
Python; median over blocks of the mean time per call.

Memory: ferroprop's fit on the large workload runs in a child process (spawned, so the
parent's memory does not count). After the data is made, the peak resident set size is
reset (``/proc/self/clear_refs``); the growth of the peak (``VmHWM``) during building the
network and one epoch of fit is what ferroprop allocated. Where the reset is unavailable
it falls back to the growth of ``getrusage(RUSAGE_SELF).ru_maxrss``. It is printed next
to the analytic size of parameters, gradients and one batch of activations.
"""

from __future__ import annotations

import argparse
import gc
import math
import multiprocessing
import os
import platform
import resource
import statistics
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property, partial
from typing import Any

import numpy as np

LEARNING_RATE = 0.01
DTYPES = ("float64", "float32")
MATMUL_N = 1024


# --- workloads and their data -------------------------------------------------------


@dataclass(frozen=True)
class Workload:
    name: str
    sizes: tuple[int, ...]
    activations: tuple[str, ...]
    loss: str
    batch_size: int | None  # None: the full batch
    n_samples: int
    data: str  # "circles" or "teacher"
    quick_samples: int | None = None  # fewer samples with --quick


WORKLOADS = {
    w.name: w
    for w in (
        Workload(
            "tutorial",
            (2, 4, 3, 1),
            ("relu", "relu", "sigmoid"),
            "binary_cross_entropy",
            None,
            1000,
            "circles",
        ),
        Workload(
            "small",
            (2, 16, 16, 1),
            ("relu", "relu", "sigmoid"),
            "binary_cross_entropy",
            32,
            1000,
            "circles",
        ),
        Workload(
            "medium",
            (64, 256, 256, 10),
            ("relu", "relu", "softmax"),
            "cross_entropy",
            128,
            10_000,
            "teacher",
            quick_samples=2048,
        ),
        Workload(
            "large",
            (784, 1024, 1024, 10),
            ("relu", "relu", "softmax"),
            "cross_entropy",
            256,
            8192,
            "teacher",
            quick_samples=1024,
        ),
    )
}


def make_data(workload: Workload, n: int, dtype: str) -> tuple[np.ndarray, np.ndarray]:
    """``X`` of ``dtype`` (C-contiguous) and int64 class labels; the same values for both
    dtypes (float32 data is the float64 data rounded)."""
    if workload.data == "circles":
        from sklearn.datasets import make_circles

        X, labels = make_circles(n_samples=n, factor=0.5, noise=0.1, random_state=0)
    else:
        rng = np.random.default_rng(0)
        X = rng.standard_normal((n, workload.sizes[0]))
        teacher = rng.standard_normal((workload.sizes[0], workload.sizes[-1]))
        labels = np.argmax(X @ teacher, axis=1)
    return np.ascontiguousarray(X, dtype=dtype), labels.astype(np.int64)


def train_flops(sizes: Sequence[int], n_samples: int) -> int:
    """FLOPs of the matrix products of one epoch (see the module docstring)."""
    macs = [a * b for a, b in zip(sizes, sizes[1:])]
    return 2 * n_samples * (3 * sum(macs) - macs[0])


@dataclass
class Task:
    """One workload in one dtype: the data, the initial weights, the settings."""

    workload: Workload
    dtype: str
    X: np.ndarray
    labels: np.ndarray
    weights: list[tuple[np.ndarray, np.ndarray]]
    learning_rate: float

    @property
    def n(self) -> int:
        return len(self.X)

    @property
    def batch(self) -> int:
        return min(self.workload.batch_size or self.n, self.n)

    @property
    def binary(self) -> bool:
        return self.workload.loss == "binary_cross_entropy"

    @cached_property
    def dense_y(self) -> np.ndarray:
        """Targets as rows of the dtype: (n, 1) for binary, one-hot for categorical."""
        if self.binary:
            return self.labels.reshape(-1, 1).astype(self.dtype)
        return np.eye(self.workload.sizes[-1], dtype=self.dtype)[self.labels]

    def head(self, n: int) -> Task:
        """The same task on the first ``n`` rows (for warm-up runs)."""
        return Task(
            self.workload, self.dtype, self.X[:n], self.labels[:n], self.weights, self.learning_rate
        )


def make_task(workload: Workload, n: int, dtype: str, learning_rate: float) -> Task:
    from ferroprop import Network

    X, labels = make_data(workload, n, dtype)
    net = Network(list(workload.sizes), list(workload.activations), workload.loss, dtype, seed=0)
    return Task(workload, dtype, X, labels, net.get_weights(), learning_rate)


# --- the systems: prepare (untimed) returns run (timed), which returns the final loss --

Run = Callable[[], float]


def prepare_ferroprop(task: Task, epochs: int) -> Run:
    from ferroprop import Network

    w = task.workload
    net = Network(list(w.sizes), list(w.activations), w.loss, task.dtype, seed=0)
    y = task.dense_y if task.binary else task.labels

    def run() -> float:
        history = net.fit(
            task.X,
            y,
            epochs=epochs,
            learning_rate=task.learning_rate,
            batch_size=task.batch,
            shuffle=False,
            optimizer="sgd",
            seed=0,
        )
        return history[-1]

    return run


def prepare_numpy(task: Task, epochs: int) -> Run:
    from ferroprop.reference import mlp

    w = task.workload
    net = mlp.from_names(list(w.sizes), list(w.activations), w.loss, task.dtype)
    net.set_weights(task.weights)
    y = task.dense_y

    def run() -> float:
        return net.fit(task.X, y, epochs, task.learning_rate, task.batch)[-1]

    return run


def prepare_sklearn(task: Task, epochs: int) -> Run:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    clf = MLPClassifier(
        hidden_layer_sizes=task.workload.sizes[1:-1],
        activation="relu",
        solver="sgd",
        alpha=0.0,
        batch_size=task.batch,
        learning_rate="constant",
        learning_rate_init=task.learning_rate,
        max_iter=epochs,
        shuffle=False,
        random_state=0,
        tol=0.0,
        momentum=0.0,
        nesterovs_momentum=False,
        early_stopping=False,
        n_iter_no_change=epochs + 1,
    )

    def run() -> float:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(task.X, task.labels)
        return clf.loss_curve_[-1]

    return run


def torch_model(torch: Any, task: Task) -> Any:
    """``nn.Sequential`` of Linear/ReLU with the task's initial weights; it outputs logits
    (the sigmoid or softmax is fused into the loss)."""
    tdtype = getattr(torch, task.dtype)
    modules = []
    for k, (W, b) in enumerate(task.weights):
        linear = torch.nn.Linear(W.shape[0], W.shape[1], dtype=tdtype)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(np.ascontiguousarray(W.T)))
            linear.bias.copy_(torch.from_numpy(b))
        modules.append(linear)
        activation = task.workload.activations[k]
        if k < len(task.weights) - 1:
            if activation != "relu":
                raise NotImplementedError(f"hidden activation {activation}")
            modules.append(torch.nn.ReLU())
    return torch.nn.Sequential(*modules)


def prepare_torch(torch: Any, threads: int, task: Task, epochs: int) -> Run:
    torch.set_num_threads(threads)
    model = torch_model(torch, task)
    X = torch.from_numpy(task.X)
    if task.binary:
        y, loss_fn = torch.from_numpy(task.dense_y), torch.nn.BCEWithLogitsLoss()
    else:
        y, loss_fn = torch.from_numpy(task.labels), torch.nn.CrossEntropyLoss()
    batches = [(X[i : i + task.batch], y[i : i + task.batch]) for i in range(0, task.n, task.batch)]
    optimizer = torch.optim.SGD(model.parameters(), lr=task.learning_rate, momentum=0.0)

    def run() -> float:
        total = 0.0
        for _ in range(epochs):
            total = 0.0
            for xb, yb in batches:
                optimizer.zero_grad()
                loss = loss_fn(model(xb), yb)
                loss.backward()
                optimizer.step()
                total += loss.item() * len(xb)
        return total / task.n

    return run


@dataclass(frozen=True)
class System:
    key: str  # e.g. "torch/2"
    column: str  # the table column it reports into
    prepare: Callable[[Task, int], Run]
    threads: int | None = None


def load_torch(enabled: bool) -> tuple[Any, str]:
    """The torch module (or None) and a note saying which one, or why not."""
    if not enabled:
        return None, "PyTorch: skipped (--no-torch)"
    try:
        import torch
    except ImportError as err:
        return None, f"PyTorch: not installed ({err}); its column is skipped"
    return torch, f"PyTorch {torch.__version__}"


def torch_thread_counts() -> list[int]:
    return sorted({1, os.cpu_count() or 1})


def make_systems(torch: Any) -> list[System]:
    systems = [
        System("ferroprop", "ferroprop", prepare_ferroprop),
        System("numpy", "NumPy", prepare_numpy),
        System("sklearn", "scikit-learn", prepare_sklearn),
    ]
    if torch is not None:
        for t in torch_thread_counts():
            systems.append(System(f"torch/{t}", "PyTorch", partial(prepare_torch, torch, t), t))
    return systems


# --- measuring ---------------------------------------------------------------------------


@dataclass
class Sample:
    seconds: float  # the whole measurement
    epochs: int
    cpu_per_wall: float
    final_loss: float

    @property
    def per_epoch(self) -> float:
        return self.seconds / self.epochs


def settle(max_wait: float = 0.5) -> None:
    """Wait until this process's worker threads are idle.

    Thread pools keep spinning after their last job (OpenBLAS's for ~0.1 s, OpenMP's for
    less), each on a core: the next system measured would run beside them.
    """
    deadline = time.perf_counter() + max_wait
    while time.perf_counter() < deadline:
        cpu0, t0 = time.process_time(), time.perf_counter()
        time.sleep(0.01)
        if time.process_time() - cpu0 < 0.2 * (time.perf_counter() - t0):
            return


def measure(system: System, task: Task, epochs: int) -> Sample:
    run = system.prepare(task, epochs)
    settle()
    gc.collect()
    gc.disable()
    try:
        cpu0, t0 = time.process_time(), time.perf_counter()
        loss = run()
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    finally:
        gc.enable()
    return Sample(wall, epochs, cpu / wall if wall > 0 else float("nan"), float(loss))


def calibrate_epochs(system: System, task: Task, min_time: float) -> int:
    """The number of epochs for which one measurement of ``system`` takes ≳ ``min_time``."""
    epochs = 1
    seconds = measure(system, task, epochs).seconds
    while seconds < min_time / 4:
        epochs = max(2 * epochs, math.ceil(epochs * (min_time / 4) / max(seconds, 1e-6)))
        seconds = measure(system, task, epochs).seconds
    return max(1, math.ceil(1.1 * min_time * epochs / seconds))


def rotate(items: Sequence[Any], by: int) -> list[Any]:
    by %= len(items)
    return list(items[by:]) + list(items[:by])


_STARTED = time.perf_counter()


def log(message: str) -> None:
    print(f"{time.perf_counter() - _STARTED:6.1f} s  {message}", file=sys.stderr, flush=True)


@dataclass
class Result:
    task: Task
    epochs: int
    samples: dict[str, list[Sample]] = field(default_factory=dict)
    latency_us: dict[str, tuple[float, int | None]] = field(default_factory=dict)

    def median(self, key: str) -> float:
        return statistics.median(s.per_epoch for s in self.samples[key])

    def best(self, column: str, systems: Sequence[System]) -> tuple[float, System] | None:
        """The fastest median of the systems reporting into ``column``."""
        found = [
            (self.median(s.key), s) for s in systems if s.column == column and s.key in self.samples
        ]
        return min(found, key=lambda f: f[0]) if found else None


def bench_training(
    task: Task, systems: list[System], repeats: int, min_time: float, max_time: float
) -> Result:
    """Warm up, calibrate the epochs on ferroprop (``systems[0]``), then the rounds.

    A system so slow that one measurement would last more than ``max_time`` seconds (judged
    from its warm-up, scaled to the whole data) runs fewer epochs: a safety net for
    overloaded machines, shown in the report.
    """
    label = f"{task.workload.name} {task.dtype}"
    rows = min(task.n, 4 * task.batch)
    estimate = {}  # seconds per epoch, from the warm-up
    for system in systems:  # warm-up: load libraries, fault pages in, start thread pools
        estimate[system.key] = measure(system, task.head(rows), 1).seconds * task.n / rows
    epochs = calibrate_epochs(systems[0], task, min_time)
    plan = {s.key: min(epochs, max(1, int(max_time / estimate[s.key]))) for s in systems}
    plan[systems[0].key] = epochs
    log(f"[{label}] {epochs} epoch(s) per measurement, {repeats} round(s)")
    for key, e in plan.items():
        if e < epochs:
            log(f"[{label}] {key}: only {e} epoch(s) (≈ {estimate[key]:.3g} s per epoch)")
    result = Result(task, epochs, {s.key: [] for s in systems})
    for r in range(repeats):
        for system in rotate(systems, r):
            sample = measure(system, task, plan[system.key])
            result.samples[system.key].append(sample)
            log(f"  round {r + 1}: {system.key:<10} {1e3 * sample.per_epoch:10.3f} ms/epoch")
    return result


def bench_predict(
    task: Task, torch: Any, blocks: int, block_time: float
) -> dict[str, tuple[float, int | None]]:
    """Median µs per one-sample ``predict`` call (and the thread count, for PyTorch)."""
    from ferroprop import Network
    from ferroprop.reference import mlp

    w = task.workload
    x = np.ascontiguousarray(task.X[:1])
    net = Network(list(w.sizes), list(w.activations), w.loss, task.dtype, seed=0)
    ref = mlp.from_names(list(w.sizes), list(w.activations), w.loss, task.dtype)
    ref.set_weights(task.weights)
    # (key, threads, setup, call)
    calls: list[tuple[str, int | None, Callable[[], None], Callable[[], object]]] = [
        ("ferroprop", None, lambda: None, lambda: net.predict(x)),
        ("numpy", None, lambda: None, lambda: ref.predict(x)),
    ]
    if torch is not None:
        model = torch_model(torch, task)
        output = torch.sigmoid if task.binary else partial(torch.softmax, dim=1)

        def torch_predict() -> np.ndarray:
            with torch.no_grad():
                return output(model(torch.from_numpy(x))).numpy()

        for t in torch_thread_counts():
            calls.append((f"torch/{t}", t, partial(torch.set_num_threads, t), torch_predict))

    counts = {}
    for key, _, setup, call in calls:
        setup()
        for _ in range(3):
            call()
        t0 = time.perf_counter()
        for _ in range(10):
            call()
        per_call = (time.perf_counter() - t0) / 10
        counts[key] = max(10, math.ceil(block_time / max(per_call, 1e-7)))
    times: dict[str, list[float]] = {key: [] for key, *_ in calls}
    for b in range(blocks):
        for key, _, setup, call in rotate(calls, b):
            setup()
            count = counts[key]
            settle()
            gc.collect()
            t0 = time.perf_counter()
            for _ in range(count):
                call()
            times[key].append((time.perf_counter() - t0) / count)
    medians = {key: (1e6 * statistics.median(times[key]), t) for key, t, *_ in calls}
    if torch is not None:
        torch_keys = [k for k in medians if k.startswith("torch/")]
        best = min(torch_keys, key=lambda k: medians[k][0])
        medians["torch"] = medians[best]
    return medians


def matmul_gflops(dtype: str, repeats: int, threads: int | None = None) -> float | None:
    """GFLOP/s of NumPy's ``A @ B`` on 1024 × 1024 matrices (median of ``repeats``);
    ``threads`` limits the BLAS thread pool (None: its default; needs threadpoolctl)."""
    rng = np.random.default_rng(0)
    A = rng.standard_normal((MATMUL_N, MATMUL_N)).astype(dtype)
    B = rng.standard_normal((MATMUL_N, MATMUL_N)).astype(dtype)
    C = np.empty_like(A)
    if threads is None:
        limit: Any = None
    else:
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:
            return None
        limit = threadpool_limits(limits=threads, user_api="blas")
    try:
        np.matmul(A, B, out=C)
        settle()
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            np.matmul(A, B, out=C)
            times.append(time.perf_counter() - t0)
    finally:
        if limit is not None:
            limit.restore_original_limits()
    return 2 * MATMUL_N**3 / statistics.median(times) / 1e9


# --- memory, in a child process -----------------------------------------------------------


def _proc_status_bytes(name: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(name + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _reset_peak_rss() -> bool:
    """Reset the peak RSS (VmHWM) of this process to its current RSS (Linux ≥ 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    return _proc_status_bytes("VmHWM") is not None


def _ru_maxrss_bytes() -> int:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss if sys.platform == "darwin" else rss * 1024


def memory_probe(name: str, n: int, dtype: str, learning_rate: float) -> dict[str, Any]:
    """Runs in a spawned child: the peak memory growth of building and fitting a Network."""
    from ferroprop import Network

    w = WORKLOADS[name]
    X, labels = make_data(w, n, dtype)
    y = labels if w.loss == "cross_entropy" else labels.reshape(-1, 1).astype(dtype)
    gc.collect()
    if _reset_peak_rss():
        method = "VmHWM growth after resetting the peak (/proc/self/clear_refs)"
        before, peak = _proc_status_bytes("VmRSS"), lambda: _proc_status_bytes("VmHWM")
    else:
        method = "ru_maxrss growth"
        before, peak = _ru_maxrss_bytes(), _ru_maxrss_bytes
    net = Network(list(w.sizes), list(w.activations), w.loss, dtype, seed=0)
    net.fit(
        X, y, epochs=1, learning_rate=learning_rate, batch_size=w.batch_size, shuffle=False, seed=0
    )
    return {
        "method": method,
        "baseline": before,
        "growth": peak() - before,
        "data": X.nbytes + y.nbytes,
    }


def memory_analytic(w: Workload, n: int, dtype: str) -> dict[str, int]:
    item = np.dtype(dtype).itemsize
    params = sum((a + 1) * b for a, b in zip(w.sizes, w.sizes[1:])) * item
    batch = min(w.batch_size or n, n)
    return {
        "parameters": params,
        "gradients": params,
        "activations": 4 * batch * sum(w.sizes[1:]) * item,  # z, a, dz, da of every layer
    }


def run_memory_probe(name: str, n: int, dtype: str, learning_rate: float) -> dict[str, Any]:
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1) as pool:
        return pool.apply(memory_probe, (name, n, dtype, learning_rate))


# --- the report -----------------------------------------------------------------------


def fmt_ms(seconds: float) -> str:
    ms = 1e3 * seconds
    return f"{ms:.0f}" if ms >= 100 else f"{ms:.1f}" if ms >= 10 else f"{ms:.3g}"


def fmt_ratio(r: float) -> str:
    return f"×{r:.2f}" if r < 1 else f"×{r:.1f}" if r < 10 else f"×{r:.0f}"


def fmt_mb(nbytes: float) -> str:
    return f"{nbytes / 2**20:.1f} MiB"


def threads_word(t: int | None) -> str:
    return f"{t} thread" + ("s" if t != 1 else "")


def cpu_model() -> str:
    """The CPU's name, family and model, and its widest vector extensions: "AMD EPYC" alone
    does not tell Zen 2 from Zen 4."""
    info: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                info.setdefault(key.strip(), value.strip())
    except OSError:
        return platform.processor() or platform.machine()
    flags = set(info.get("flags", "").split())
    vector = [f for f in ("avx2", "fma", "avx512f", "amx_tile") if f in flags]
    return (
        f"{info.get('model name', platform.machine())} (family {info.get('cpu family', '?')}, "
        f"model {info.get('model', '?')}; {', '.join(vector) or 'no AVX2'})"
    )


def blas_description() -> str:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "BLAS: unknown (no threadpoolctl)"
    pools = [p for p in threadpool_info() if p.get("user_api") == "blas"]
    return "; ".join(
        f"{p.get('internal_api')} {p.get('version')} from "
        f"{os.path.basename(os.path.dirname(p.get('filepath', '')))} "
        f"({p.get('architecture')}, {threads_word(p.get('num_threads'))})"
        for p in pools
    )


def workload_cell(task: Task) -> str:
    """The workload's name, with the number of samples if ``--quick`` reduced it."""
    w = task.workload
    return w.name if task.n == w.n_samples else f"{w.name} ({task.n} samples)"


def workload_legend(w: Workload, n: int) -> str:
    arch = "-".join(map(str, w.sizes))
    batch = f"full batch of {n}" if w.batch_size is None else f"batch {w.batch_size}"
    data = "make_circles" if w.data == "circles" else "random teacher"
    quick = " (reduced by --quick)" if n != w.n_samples else ""
    return (
        f"- {w.name}: {arch}, {'/'.join(w.activations)}, {w.loss}, {batch}, "
        f"{n} samples{quick} ({data})"
    )


def print_report(
    results: list[Result],
    systems: list[System],
    peaks: dict[str, dict[str, float | None]],
    memory: list[tuple[Task, dict[str, Any]]],
    notes: list[str],
    torch: Any,
    args: argparse.Namespace,
) -> None:
    import sklearn

    import ferroprop

    out = print
    columns = ["NumPy", "scikit-learn"] + (["PyTorch"] if torch is not None else [])
    out("## Training: time per epoch (median), and how many times slower than ferroprop\n")
    head = ["workload", "dtype", "ferroprop ms/epoch"] + [f"{c} ms/epoch" for c in columns]
    out("| " + " | ".join(head + ["ferroprop GFLOP/s"]) + " |")
    out("|" + "---|" * 2 + "--:|" * (len(head) - 1))
    short_epochs = False
    for res in results:
        t_fp = res.median("ferroprop")
        cells = [workload_cell(res.task), res.task.dtype, fmt_ms(t_fp)]
        for column in columns:
            best = res.best(column, systems)
            if best is None:
                cells.append("–")
                continue
            t, system = best
            extra = f", {threads_word(system.threads)}" if system.threads else ""
            mark = "†" if res.samples[system.key][0].epochs < res.epochs else ""
            short_epochs = short_epochs or bool(mark)
            cells.append(f"{fmt_ms(t)}{mark} ({fmt_ratio(t / t_fp)}{extra})")
        gflops = train_flops(res.task.workload.sizes, res.task.n) / t_fp / 1e9
        out("| " + " | ".join(cells + [f"{gflops:.2f}"]) + " |")
    out("")
    seen = set()
    for res in results:
        if res.task.workload.name not in seen:
            seen.add(res.task.workload.name)
            out(workload_legend(res.task.workload, res.task.n))
    out(
        f"\nAll: plain SGD, learning rate {args.learning_rate}, rows in order, same epochs "
        f"per system; median of {args.repeats} round(s). ×r = system time / ferroprop time."
    )
    if short_epochs:
        out(
            f"† fewer epochs than ferroprop: one measurement would have lasted more than "
            f"{args.max_time:g} s (--max-time); see the details."
        )
    out(
        "Training FLOPs per epoch = 2·N·(3·Σ_k n_{k−1}·n_k − n_0·n_1) "
        "(three matrix products per layer, none for the input's gradient; "
        "biases, activations and updates not counted)."
    )

    out("\n## Details\n")
    heads = ["workload", "dtype", "epochs", "system", "median ms/epoch", "min–max", "cpu/wall"]
    out("| " + " | ".join([*heads, "final loss"]) + " |")
    out("|---|---|--:|---|--:|--:|--:|--:|")
    for res in results:
        for system in systems:
            samples = res.samples.get(system.key)
            if not samples:
                continue
            per = [s.per_epoch for s in samples]
            cpu = statistics.median(s.cpu_per_wall for s in samples)
            loss = samples[-1].final_loss
            cells = [
                res.task.workload.name,
                res.task.dtype,
                str(samples[0].epochs),
                system.key,
                fmt_ms(statistics.median(per)),
                f"{fmt_ms(min(per))}–{fmt_ms(max(per))}",
                f"{cpu:.2f}",
                f"{loss:.10g}",
            ]
            out("| " + " | ".join(cells) + " |")
    out(
        "\nferroprop, NumPy and PyTorch start from the same weights and, after the same number "
        "of epochs, should end at the same loss; scikit-learn draws its own."
    )

    out(
        f"\n## Matrix-product peak (NumPy A @ B, {MATMUL_N}×{MATMUL_N}; the better of the "
        "medians measured before and after the training runs)\n"
    )
    for dtype, peak in peaks.items():
        parts = [f"{peak['all']:.1f} GFLOP/s with the BLAS's default threads"]
        if peak.get("one") is not None:
            parts.append(f"{peak['one']:.1f} GFLOP/s on 1 thread")
        line = f"- {dtype}: " + "; ".join(parts)
        large = [r for r in results if r.task.workload.name == "large" and r.task.dtype == dtype]
        if large:
            res = large[0]
            gflops = train_flops(res.task.workload.sizes, res.task.n) / res.median("ferroprop")
            gflops /= 1e9
            frac = f"{100 * gflops / peak['all']:.0f} %"
            if peak.get("one"):
                frac += f" ({100 * gflops / peak['one']:.0f} % of the 1-thread peak)"
            line += f". ferroprop on large: {gflops:.1f} GFLOP/s = {frac}"
        out(line)

    if any(res.latency_us for res in results):
        out("\n## predict of one sample, round trip from Python (median µs per call)\n")
        cols = ["ferroprop", "NumPy"] + (["PyTorch (no_grad)"] if torch is not None else [])
        out("| workload | dtype | " + " | ".join(cols) + " |")
        out("|---|---|" + "--:|" * len(cols))
        for res in results:
            lat = res.latency_us
            cells = [res.task.workload.name, res.task.dtype]
            cells += [f"{lat['ferroprop'][0]:.1f}", f"{lat['numpy'][0]:.1f}"]
            if "torch" in lat:
                us, t = lat["torch"]
                cells.append(f"{us:.1f} ({threads_word(t)})")
            out("| " + " | ".join(cells) + " |")

    if memory:
        out("\n## Peak memory of ferroprop's fit (child process)\n")
        for task, probe in memory:
            w = task.workload
            analytic = memory_analytic(w, task.n, task.dtype)
            expected = sum(analytic.values())
            out(
                f"- {w.name} {task.dtype} ({task.n} samples, batch {task.batch}): "
                f"building the network and one epoch of fit grew the peak RSS by "
                f"{fmt_mb(probe['growth'])}, over {fmt_mb(probe['data'])} of data (X and y) "
                f"already loaded. Analytic: data {fmt_mb(probe['data'])} + parameters "
                f"{fmt_mb(analytic['parameters'])} + gradients {fmt_mb(analytic['gradients'])} "
                f"+ one batch of z, a, dz, da {fmt_mb(analytic['activations'])} = "
                f"{fmt_mb(probe['data'] + expected)}; measured: data + growth = "
                f"{fmt_mb(probe['data'] + probe['growth'])} "
                f"({probe['growth'] / expected:.2f}× the analytic growth). "
                f"Method: {probe['method']}."
            )

    out("\n## Machine\n")
    out(f"- {cpu_note()}")
    out(f"- Python {platform.python_version()} on {platform.system()} {platform.release()}")
    out(f"- ferroprop {ferroprop.__version__}; NumPy {np.__version__} ({blas_description()})")
    out(f"- scikit-learn {sklearn.__version__}")
    for note in notes:
        out(f"- {note}")


def cpu_note() -> str:
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    return f"CPU: {cpu_model()}, {os.cpu_count()} logical cores ({cores} usable)"


def load_note(load_start: tuple[float, ...]) -> str:
    load = ", ".join(f"{x:.1f}" for x in (*load_start, *os.getloadavg()))
    return f"load average (1, 5, 15 min) at the start and at the end: {load}"


# --- the sweep ----------------------------------------------------------------------------

SWEEP_WIDTHS = (4, 16, 64, 256, 1024)
SWEEP_BATCHES: tuple[int | None, ...] = (16, 128, None)
SWEEP_SAMPLES = 4096


def sweep_workload(width: int, batch: int | None, n: int) -> Workload:
    return Workload(
        f"w{width}-b{batch or 'full'}",
        (32, width, width, 10),
        ("relu", "relu", "softmax"),
        "cross_entropy",
        batch,
        n,
        "teacher",
    )


def batch_word(batch: int | None) -> str:
    return "full batch" if batch is None else f"batch {batch}"


def run_sweep(args: argparse.Namespace, systems: list[System], notes: list[str]) -> None:
    n = 1024 if args.quick else SWEEP_SAMPLES
    cells: dict[tuple[str, int, int | None], tuple[float, str, Result]] = {}
    for dtype in args.dtypes:
        for width in SWEEP_WIDTHS:
            for batch in SWEEP_BATCHES:
                task = make_task(sweep_workload(width, batch, n), n, dtype, args.learning_rate)
                res = bench_training(task, systems, args.repeats, args.min_time, args.max_time)
                t_fp = res.median("ferroprop")
                alternatives = [(res.median(s.key), s.key) for s in systems[1:]]
                t_best, best_key = min(alternatives)
                cells[(dtype, width, batch)] = (t_best / t_fp, best_key, res)
                cell = f"{dtype} w{width} {batch_word(batch)}"
                log(f"[sweep {cell}] ×{t_best / t_fp:.2f} ({best_key})")
    out = print
    out(f"## Sweep: [32, w, w, 10] on {n} samples, the best alternative's time per epoch over")
    out("ferroprop's (above 1: ferroprop is faster)\n")
    for dtype in args.dtypes:
        out(f"### {dtype}\n")
        out("| width | " + " | ".join(batch_word(b) for b in SWEEP_BATCHES) + " |")
        out("|--:|" + "--:|" * len(SWEEP_BATCHES))
        for width in SWEEP_WIDTHS:
            row = []
            for batch in SWEEP_BATCHES:
                ratio, key, res = cells[(dtype, width, batch)]
                row.append(f"×{ratio:.2f} ({key}, {fmt_ms(res.median('ferroprop'))} ms)")
            out(f"| {width} | " + " | ".join(row) + " |")
        out("")
    worst = min(cells.items(), key=lambda c: c[1][0])
    (dtype, width, batch), (ratio, key, _) = worst
    out(f"Worst cell: width {width}, {batch_word(batch)}, {dtype}: ×{ratio:.2f} against {key}.\n")
    out("Notes:\n")
    for note in notes:
        out(f"- {note}")
    if args.plot:
        plot_sweep(cells, args.dtypes, args.plot, n)
        log(f"heatmap written to {args.plot}")


def plot_sweep(
    cells: dict[tuple[str, int, int | None], tuple[float, str, Result]],
    dtypes: Sequence[str],
    path: str,
    n: int,
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm

    fig, axes = plt.subplots(1, len(dtypes), figsize=(4.6 * len(dtypes), 4.4), squeeze=False)
    ratios = [c[0] for c in cells.values()]
    span = max(2.0, max(ratios), 1 / min(ratios))
    norm = LogNorm(vmin=1 / span, vmax=span)
    image = None
    for ax, dtype in zip(axes[0], dtypes):
        grid = np.array([[cells[(dtype, w, b)][0] for b in SWEEP_BATCHES] for w in SWEEP_WIDTHS])
        image = ax.imshow(grid, cmap="RdYlGn", norm=norm, aspect="auto")
        for i, w in enumerate(SWEEP_WIDTHS):
            for j, b in enumerate(SWEEP_BATCHES):
                ratio, key, _ = cells[(dtype, w, b)]
                ax.text(j, i, f"×{ratio:.2f}\n{key}", ha="center", va="center", fontsize=8)
        ax.set_xticks(range(len(SWEEP_BATCHES)), [str(b or "full") for b in SWEEP_BATCHES])
        ax.set_yticks(range(len(SWEEP_WIDTHS)), [str(w) for w in SWEEP_WIDTHS])
        ax.set_xlabel("batch size")
        ax.set_ylabel("hidden width (two layers)")
        ax.set_title(dtype)
    fig.suptitle(
        f"ferroprop's speed-up over the fastest of NumPy, scikit-learn, PyTorch\n"
        f"[32, w, w, 10], {n} samples, time per epoch; {cpu_model()}",
        fontsize=9,
        y=1.06,
    )
    bar = fig.colorbar(image, ax=axes[0].tolist(), shrink=0.8, label="speed-up (log scale)")
    ticks = [t for t in (0.25, 0.5, 1, 2, 4, 8, 16, 32) if 1 / span <= t <= span]
    bar.set_ticks(ticks, labels=[f"×{t:g}" for t in ticks])
    fig.savefig(path, dpi=110, bbox_inches="tight")


# --- main ----------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=None, help="rounds (default 5; quick: 1)")
    parser.add_argument(
        "--quick", action="store_true", help="fewer epochs, rounds and samples: a smoke run"
    )
    parser.add_argument(
        "--workloads",
        default=",".join(WORKLOADS),
        help=f"comma-separated, from {','.join(WORKLOADS)} (default: all)",
    )
    parser.add_argument(
        "--dtypes", default=",".join(DTYPES), help="comma-separated (default: float64,float32)"
    )
    parser.add_argument("--no-torch", action="store_true", help="leave PyTorch out")
    parser.add_argument(
        "--sweep",
        action="store_true",
        help="the grid of widths × batch sizes instead of the workloads (see the docstring)",
    )
    parser.add_argument("--plot", default=None, help="with --sweep: draw the heatmap into this PNG")
    parser.add_argument(
        "--learning-rate", type=float, default=LEARNING_RATE, help="SGD step (default 0.01)"
    )
    parser.add_argument(
        "--min-time",
        type=float,
        default=None,
        help="seconds one ferroprop measurement lasts at least (default 0.05; quick: 0.01)",
    )
    parser.add_argument(
        "--max-time",
        type=float,
        default=None,
        help="seconds beyond which a slower system's measurement runs fewer epochs than "
        "ferroprop's (default 10; quick: 2)",
    )
    args = parser.parse_args(argv)
    args.workloads = [w.strip() for w in args.workloads.split(",") if w.strip()]
    args.dtypes = [d.strip() for d in args.dtypes.split(",") if d.strip()]
    for w in args.workloads:
        if w not in WORKLOADS:
            parser.error(f"unknown workload {w!r}; expected some of {', '.join(WORKLOADS)}")
    for d in args.dtypes:
        if d not in DTYPES:
            parser.error(f"unknown dtype {d!r}; expected some of {', '.join(DTYPES)}")
    if args.plot and not args.sweep:
        parser.error("--plot draws the sweep: add --sweep")
    if args.repeats is None:
        args.repeats = 1 if args.quick else (3 if args.sweep else 5)
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    if args.min_time is None:
        args.min_time = 0.01 if args.quick else 0.05
    if args.max_time is None:
        args.max_time = 2.0 if args.quick else 10.0
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    started = time.perf_counter()
    torch, torch_note = load_torch(not args.no_torch)
    notes = [torch_note]
    if torch is not None:
        notes[0] += f" (measured with {' and '.join(map(str, torch_thread_counts()))} threads)"
    systems = make_systems(torch)
    # Import everything before timing anything, then move the objects of all those modules
    # out of the collector's sight: with PyTorch loaded a full collection takes ~0.2 s.
    import sklearn.datasets  # noqa: F401
    import sklearn.neural_network  # noqa: F401

    import ferroprop.reference  # noqa: F401

    gc.collect()
    gc.freeze()

    load_start = os.getloadavg()
    if args.sweep:
        notes.insert(0, cpu_note())
        run_sweep(args, systems, notes)
        print(f"- {load_note(load_start)}")
        print(f"- this run: {time.perf_counter() - started:.0f} s, `{' '.join(sys.argv[1:])}`")
        return
    peak_repeats = 3 if args.quick else 10

    def measure_peaks() -> dict[str, dict[str, float | None]]:
        log("matrix-product peak ...")
        return {
            d: {"all": matmul_gflops(d, peak_repeats), "one": matmul_gflops(d, peak_repeats, 1)}
            for d in args.dtypes
        }

    peaks_before = measure_peaks()

    results = []
    for name in args.workloads:
        w = WORKLOADS[name]
        n = w.quick_samples if args.quick and w.quick_samples else w.n_samples
        for dtype in args.dtypes:
            t0 = time.perf_counter()
            task = make_task(w, n, dtype, args.learning_rate)
            res = bench_training(task, systems, args.repeats, args.min_time, args.max_time)
            log(f"[{name} {dtype}] predict latency ...")
            res.latency_us = bench_predict(
                task, torch, blocks=3 if args.quick else 7, block_time=0.005 if args.quick else 0.02
            )
            results.append(res)
            log(f"[{name} {dtype}] {time.perf_counter() - t0:.1f} s")

    memory = []
    if "large" in args.workloads:
        w = WORKLOADS["large"]
        n = w.quick_samples if args.quick and w.quick_samples else w.n_samples
        for dtype in args.dtypes:
            log(f"[large {dtype}] peak memory of ferroprop's fit, in a child process ...")
            task = next(r.task for r in results if r.task.workload is w and r.task.dtype == dtype)
            memory.append((task, run_memory_probe("large", n, dtype, args.learning_rate)))

    # The practical limit: the better of the medians measured before and after the runs.
    peaks_after = measure_peaks()
    peaks = {
        d: {
            k: max(
                (v for v in (peaks_before[d][k], peaks_after[d][k]) if v is not None), default=None
            )
            for k in ("all", "one")
        }
        for d in args.dtypes
    }
    notes.append(
        f"{load_note(load_start)} (anything near or above the core count means other work "
        "shared the machine)"
    )
    elapsed = time.perf_counter() - started
    notes.append(f"this run: {elapsed:.0f} s, `{' '.join(sys.argv[1:]) or '(no flags)'}`")
    log(f"done in {elapsed:.0f} s\n")
    print_report(results, systems, peaks, memory, notes, torch, args)


if __name__ == "__main__":
    main()
