//! `cargo bench`: layer forward/backward, one training step and one epoch, both dtypes, on
//! the shapes of `benches/compare.py`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ferroprop::nn::network::{backward_pass, forward_pass, workspace};
use ferroprop::train::NoMonitor;
use ferroprop::{fit, Activation, FitConfig, Float, Loss, Network, NetworkConfig, Target};
use ndarray::Array2;
use rand::{Rng, SeedableRng};

/// (name, layer sizes, batch, samples)
const SHAPES: [(&str, &[usize], usize, usize); 4] = [
    ("tutorial_2-4-3-1", &[2, 4, 3, 1], 1000, 1000),
    ("2-16-16-1_b32", &[2, 16, 16, 1], 32, 1000),
    ("64-256-256-10_b128", &[64, 256, 256, 10], 128, 10_000),
    ("784-1024-1024-10_b256", &[784, 1024, 1024, 10], 256, 8192),
];

fn data<T: Float>(n: usize, n_in: usize, n_out: usize) -> (Array2<T>, Array2<T>) {
    let mut rng = rand_pcg::Pcg64::seed_from_u64(0);
    let x = Array2::from_shape_simple_fn((n, n_in), || T::c(rng.random_range(-1.0..1.0)));
    let y = Array2::from_shape_fn((n, n_out), |(i, j)| {
        T::c(if n_out == 1 {
            (i % 2) as f64
        } else {
            (i % n_out == j) as u8 as f64
        })
    });
    (x, y)
}

fn network<T: Float>(sizes: &[usize]) -> Network<T> {
    let n_out = sizes[sizes.len() - 1];
    let mut activations = vec![Activation::Relu; sizes.len() - 2];
    let (out, loss) = if n_out == 1 {
        (Activation::Sigmoid, Loss::BinaryCrossEntropy)
    } else {
        (Activation::Softmax, Loss::CrossEntropy)
    };
    activations.push(out);
    Network::new(&NetworkConfig::new(sizes.to_vec(), activations, loss), 0).unwrap()
}

fn bench_dtype<T: Float>(c: &mut Criterion) {
    let mut group = c.benchmark_group(T::NAME);
    group.sample_size(10);
    for (name, sizes, batch, n) in SHAPES {
        let net = network::<T>(sizes);
        let n_out = sizes[sizes.len() - 1];
        let (x, y) = data::<T>(n, sizes[0], n_out);
        let (xb, yb) = (
            x.slice(ndarray::s![..batch, ..]),
            y.slice(ndarray::s![..batch, ..]),
        );
        let flops: usize = sizes.windows(2).map(|w| 2 * w[0] * w[1]).sum::<usize>() * batch;
        let mut ws = workspace(net.layers(), batch).unwrap();
        group.throughput(Throughput::Elements(flops as u64));
        group.bench_function(BenchmarkId::new("forward", name), |b| {
            b.iter(|| forward_pass(net.layers(), &mut ws, xb))
        });
        group.bench_function(BenchmarkId::new("backward", name), |b| {
            forward_pass(net.layers(), &mut ws, xb);
            b.iter(|| {
                backward_pass(
                    net.layers(),
                    &mut ws,
                    net.loss_fn(),
                    xb,
                    Target::Dense(yb),
                    false,
                    None,
                )
            })
        });
        let step = FitConfig {
            epochs: 1,
            learning_rate: 1e-3,
            batch_size: Some(batch),
            shuffle: false,
            ..FitConfig::default()
        };
        group.bench_function(BenchmarkId::new("step", name), |b| {
            let mut net = net.clone();
            b.iter(|| {
                fit(
                    &mut net,
                    xb,
                    Target::Dense(yb),
                    None,
                    None,
                    &step,
                    &mut NoMonitor,
                )
                .unwrap()
            })
        });
        group.throughput(Throughput::Elements((flops / batch * n) as u64));
        let epoch = FitConfig {
            shuffle: true,
            ..step
        };
        group.bench_function(BenchmarkId::new("epoch", name), |b| {
            let mut net = net.clone();
            b.iter(|| {
                fit(
                    &mut net,
                    x.view(),
                    Target::Dense(y.view()),
                    None,
                    None,
                    &epoch,
                    &mut NoMonitor,
                )
                .unwrap()
            })
        });
    }
    group.finish();
}

fn all(c: &mut Criterion) {
    bench_dtype::<f64>(c);
    bench_dtype::<f32>(c);
}

criterion_group!(benches, all);
criterion_main!(benches);
