//! Saving and loading networks in the safetensors format.
//!
//! A file holds, for each layer `k`, the tensors `layers.{k}.weight` — `Wᵀ`, shape
//! `(n_out, n_in)`, the layout of PyTorch's `nn.Linear` — and `layers.{k}.bias`, shape
//! `(n_out,)`, in the network's dtype (F32 or F64), with the architecture in the metadata:
//! `format = "ferroprop"`, `format_version`, `dtype`, `layer_sizes` (comma-separated),
//! `activations` (comma-separated) and `loss`, and `dropout` (comma-separated, one rate per
//! hidden layer) only if a rate is not 0: a file without it has no dropout, and every
//! version reads it (a reader that predates it ignores it, and loses only a training
//! setting).
//!
//! Format version 1 holds the weights only. Version 2 adds the optimizer's state, so that
//! training continues bit for bit: the metadata `optimizer` (`"sgd"`, `"adam"` or
//! `"adamw"`), its settings (`optimizer.momentum`, `optimizer.nesterov` and, if not 0,
//! `optimizer.weight_decay`; or `optimizer.beta_1`, `optimizer.beta_2`, `optimizer.epsilon`,
//! and for AdamW `optimizer.weight_decay`) and `optimizer.steps`, and the tensors
//! `optimizer.first` (momentum's `v` or Adam's `m`) and `optimizer.second` (Adam's `s`),
//! each as the parameters would be laid out in the file: layer by layer, `layers.{k}.weight`
//! (row-major) then `layers.{k}.bias`. [`to_bytes`] writes version 2 when the network has an
//! optimizer state and version 1 otherwise; [`save`] writes the state only when asked.
//!
//! Loading trusts nothing, and [`from_bytes`] and [`load`] apply the same rule: the header
//! length is bounded before the header is read, the metadata is parsed and checked and the
//! total size compared with what the architecture needs before any tensor is read, and then
//! every tensor's name, dtype, shape and values are checked before a network is built.
//! [`load`] reads regular files only: it opens without blocking and checks the type of what
//! it opened, so a FIFO, a device or a folder is refused at once. [`save`] writes a
//! temporary file next to the target (following symbolic links to the real file), keeps an
//! existing file's mode, syncs it, renames it over the target and syncs the folder: an
//! interrupted save leaves the previous file intact. The file system side is `io/files.rs`.

use crate::nn::NetworkFloat;
use crate::{Activation, Error, Loss, Network, NetworkConfig, Optimizer, OptimizerConfig};
use crate::{AnyNetwork, Result};
use ndarray::{Array1, Array2};
use safetensors::{Dtype, SafeTensors};
use std::collections::HashMap;
use std::io::{ErrorKind, Read};
use std::path::Path;

mod files;

/// The value of the `format` metadata key.
pub const FORMAT: &str = "ferroprop";
/// The `format_version` of files that hold the weights only.
pub const FORMAT_VERSION: &str = "1";
/// The `format_version` of files that also hold the optimizer's state.
pub const FORMAT_VERSION_OPTIMIZER: &str = "2";
/// Headers longer than this are refused before being read, and never written.
pub const MAX_HEADER_BYTES: u64 = 1 << 20;

/// The floats that have a safetensors dtype.
pub trait StoredFloat: NetworkFloat {
    const DTYPE: Dtype;
    fn write_le(self, out: &mut Vec<u8>);
    fn read_le(bytes: &[u8]) -> Self;
}

/// `StoredFloat` for a float type and its safetensors dtype.
macro_rules! stored_float {
    ($t:ty, $dtype:ident) => {
        impl StoredFloat for $t {
            const DTYPE: Dtype = Dtype::$dtype;
            fn write_le(self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
            fn read_le(bytes: &[u8]) -> Self {
                <$t>::from_le_bytes(bytes.try_into().expect("chunks of the type's size"))
            }
        }
    };
}

stored_float!(f32, F32);
stored_float!(f64, F64);

fn invalid(msg: impl Into<String>) -> Error {
    Error::value("file", msg)
}

// -- writing ------------------------------------------------------------------------------

/// The network as the bytes of a safetensors file, with its optimizer's state (format
/// version 2) if it has one: what `save` writes with `optimizer_state`, and what pickling
/// keeps. The same network always gives the same bytes.
pub fn to_bytes<T: StoredFloat>(net: &Network<T>) -> Result<Vec<u8>> {
    encode(net, true)
}

/// The optimizer's settings and step count as metadata entries.
fn optimizer_metadata(config: OptimizerConfig, steps: u64) -> Vec<(&'static str, String)> {
    // `{:?}` prints the shortest decimal that parses back to the same f64.
    let mut entries = match config {
        OptimizerConfig::Sgd {
            momentum,
            nesterov,
            weight_decay,
        } => {
            let mut entries = vec![
                ("optimizer", "sgd".to_owned()),
                ("optimizer.momentum", format!("{momentum:?}")),
                ("optimizer.nesterov", nesterov.to_string()),
            ];
            // Absent when 0: the files of SGD without it are those of older versions.
            if weight_decay != 0.0 {
                entries.push(("optimizer.weight_decay", format!("{weight_decay:?}")));
            }
            entries
        }
        OptimizerConfig::Adam {
            beta_1,
            beta_2,
            epsilon,
        } => vec![
            ("optimizer", "adam".to_owned()),
            ("optimizer.beta_1", format!("{beta_1:?}")),
            ("optimizer.beta_2", format!("{beta_2:?}")),
            ("optimizer.epsilon", format!("{epsilon:?}")),
        ],
        OptimizerConfig::AdamW {
            beta_1,
            beta_2,
            epsilon,
            weight_decay,
        } => vec![
            ("optimizer", "adamw".to_owned()),
            ("optimizer.beta_1", format!("{beta_1:?}")),
            ("optimizer.beta_2", format!("{beta_2:?}")),
            ("optimizer.epsilon", format!("{epsilon:?}")),
            ("optimizer.weight_decay", format!("{weight_decay:?}")),
        ],
    };
    entries.push(("optimizer.steps", steps.to_string()));
    entries
}

/// The `__metadata__` of a file: the format, the dtype, the architecture and, with
/// `optimizer`, its settings and step count.
fn metadata<T: StoredFloat>(
    net: &Network<T>,
    optimizer: Option<&Optimizer<T>>,
) -> serde_json::Map<String, serde_json::Value> {
    let config = net.config();
    let list = |v: Vec<String>| v.join(",");
    let version = match optimizer {
        Some(_) => FORMAT_VERSION_OPTIMIZER,
        None => FORMAT_VERSION,
    };
    let mut metadata = vec![
        ("format", FORMAT.to_owned()),
        ("format_version", version.to_owned()),
        ("dtype", T::NAME.to_owned()),
        (
            "layer_sizes",
            list(config.layer_sizes.iter().map(|n| n.to_string()).collect()),
        ),
        (
            "activations",
            list(
                config
                    .activations
                    .iter()
                    .map(|a| a.name().to_owned())
                    .collect(),
            ),
        ),
        ("loss", config.loss.name().to_owned()),
    ];
    if config.dropout.iter().any(|&p| p > 0.0) {
        let rates = config.dropout.iter().map(|p| format!("{p:?}")).collect();
        metadata.push(("dropout", list(rates)));
    }
    if let Some(o) = optimizer {
        metadata.extend(optimizer_metadata(o.config(), o.steps()));
    }
    metadata
        .into_iter()
        .map(|(k, v)| (k.to_owned(), serde_json::Value::String(v)))
        .collect()
}

/// The bytes of a safetensors file: the 8-byte little-endian header length, the JSON header
/// (keys in sorted order, padded with spaces to a multiple of 8 bytes), then the tensors'
/// data in the order they are added. The optimizer's state is included if
/// `optimizer_state` and the network has one.
fn encode<T: StoredFloat>(net: &Network<T>, optimizer_state: bool) -> Result<Vec<u8>> {
    let config = net.config();
    let optimizer = net.optimizer.as_ref().filter(|_| optimizer_state);
    let mut header = serde_json::Map::new();
    header.insert("__metadata__".into(), metadata(net, optimizer).into());

    let copies = 1 + optimizer.map_or(0, |o| o.config().state_buffers() as u64);
    let size = data_bytes(&config, T::DTYPE, copies)?;
    let mut data = Vec::new();
    try_reserve(&mut data, size, "the file's tensors")?;
    let dtype = if T::DTYPE == Dtype::F32 { "F32" } else { "F64" };
    let mut add = |name: String, shape: Vec<usize>, values: &mut dyn Iterator<Item = T>| {
        let start = data.len();
        values.for_each(|v| v.write_le(&mut data));
        let entry = serde_json::json!({
            "dtype": dtype, "shape": shape, "data_offsets": [start, data.len()],
        });
        header.insert(name, entry);
    };
    for (k, layer) in net.layers().iter().enumerate() {
        let (n_in, n_out) = layer.w.dim();
        // Stored transposed, (n_out, n_in), as PyTorch's Linear holds it.
        add(
            format!("layers.{k}.weight"),
            vec![n_out, n_in],
            &mut layer.w.t().iter().copied(),
        );
        add(
            format!("layers.{k}.bias"),
            vec![n_out],
            &mut layer.b.iter().copied(),
        );
    }
    if let Some(o) = optimizer {
        for (name, buffers) in [
            ("optimizer.first", o.first()),
            ("optimizer.second", o.second()),
        ] {
            if buffers.is_empty() {
                continue;
            }
            let len = buffers.iter().map(|(w, b)| w.len() + b.len()).sum();
            // Laid out as the parameters are in the file: Wᵀ then b, layer by layer.
            let mut values = buffers
                .iter()
                .flat_map(|(w, b)| w.t().into_iter().chain(b).copied());
            add(name.to_owned(), vec![len], &mut values);
        }
    }
    let mut json = serde_json::to_vec(&header)
        .map_err(|e| Error::value("network", format!("could not be serialized: {e}")))?;
    json.resize(json.len().div_ceil(8) * 8, b' ');
    if json.len() as u64 > MAX_HEADER_BYTES {
        return Err(Error::value(
            "network",
            format!(
                "has {} layers: its file header would be {} bytes, more than the \
                 {MAX_HEADER_BYTES} a ferroprop file may have",
                net.layers().len(),
                json.len()
            ),
        ));
    }
    let mut bytes = Vec::new();
    try_reserve(&mut bytes, 8 + json.len() as u64 + size, "the file")?;
    bytes.extend_from_slice(&(json.len() as u64).to_le_bytes());
    bytes.extend_from_slice(&json);
    bytes.extend_from_slice(&data);
    Ok(bytes)
}

/// Room for `bytes` more bytes in `v`, or `Error::Memory` naming `what`.
fn try_reserve(v: &mut Vec<u8>, bytes: u64, what: &str) -> Result<()> {
    let fail = || Error::memory(what, bytes.into());
    let n = usize::try_from(bytes).map_err(|_| fail())?;
    v.try_reserve_exact(n).map_err(|_| fail())
}

/// Saves atomically, with the optimizer's state (format version 2) if `optimizer_state`
/// and the network has one. A symbolic link at `path` is followed and stays a link; the
/// replaced file's mode is kept; anything but a regular file at the target is refused
/// (`io/files.rs` says how).
pub fn save<T: StoredFloat>(net: &Network<T>, path: &Path, optimizer_state: bool) -> Result<()> {
    let bytes = encode(net, optimizer_state)?;
    files::write_atomically(path, &bytes)
}

// -- reading ------------------------------------------------------------------------------

/// What a checked header describes.
struct Layout {
    config: NetworkConfig,
    dtype: Dtype,
    /// The optimizer's settings and step count (format version 2).
    optimizer: Option<(OptimizerConfig, u64)>,
}

/// The length of the header, from the first bytes (`prefix`, up to 8) of a file of `total`
/// bytes: refused if the file cannot hold it or if it exceeds [`MAX_HEADER_BYTES`].
fn header_len(prefix: &[u8], total: u64) -> Result<usize> {
    let prefix: [u8; 8] = match prefix.get(..8) {
        Some(p) if total >= 8 => p.try_into().expect("8 bytes"),
        _ => {
            return Err(invalid(format!(
                "is {total} bytes long: too short for a safetensors file"
            )))
        }
    };
    let n = u64::from_le_bytes(prefix);
    if n > MAX_HEADER_BYTES {
        return Err(invalid(format!(
            "declares a header of {n} bytes; ferroprop files have headers of at most \
             {MAX_HEADER_BYTES}"
        )));
    }
    if n > total - 8 {
        return Err(invalid(format!(
            "is truncated: it declares a header of {n} bytes but has only {} after its length",
            total - 8
        )));
    }
    Ok(n as usize)
}

/// Checks the header (the JSON after the length) of a file of `total` bytes: its metadata
/// must describe a valid network, and optimizer state if any, and `total` must be exactly
/// what they need. `from_bytes` and `load` both go through here (after [`header_len`]).
fn check_header(header: &[u8], total: u64) -> Result<Layout> {
    let parsed: serde_json::Value = serde_json::from_slice(header)
        .map_err(|e| invalid(format!("has a header that is not JSON: {e}")))?;
    let metadata: Option<HashMap<String, String>> = parsed
        .get("__metadata__")
        .map(|m| serde_json::from_value(m.clone()))
        .transpose()
        .map_err(|e| invalid(format!("has metadata that is not a string map: {e}")))?;
    let meta = metadata.ok_or_else(|| invalid("has no metadata: not a ferroprop file"))?;
    let (config, dtype, version) = read_config(&meta)?;
    let optimizer = read_optimizer(&meta, version)?;
    let copies = 1 + optimizer.map_or(0, |(c, _)| c.state_buffers() as u64);
    let expected = data_bytes(&config, dtype, copies)?
        .checked_add(8 + header.len() as u64)
        .ok_or_else(|| invalid("describes an architecture too large to hold in memory"))?;
    if total != expected {
        return Err(invalid(format!(
            "is {total} bytes long; the architecture in its header needs {expected} \
             (truncated or padded)"
        )));
    }
    Ok(Layout {
        config,
        dtype,
        optimizer,
    })
}

/// The architecture, dtype and format version named by a header's metadata, checked.
fn read_config(meta: &HashMap<String, String>) -> Result<(NetworkConfig, Dtype, &str)> {
    let get = |key: &str| {
        meta.get(key)
            .map(String::as_str)
            .ok_or_else(|| invalid(format!("metadata lacks {key:?}: not a ferroprop file")))
    };
    if get("format")? != FORMAT {
        return Err(invalid(format!(
            "metadata format is {:?}, not {FORMAT:?}",
            get("format")?
        )));
    }
    let version = get("format_version")?;
    if version != FORMAT_VERSION && version != FORMAT_VERSION_OPTIMIZER {
        return Err(invalid(format!(
            "has format_version {version:?}, which is not supported (this version reads \
             {FORMAT_VERSION:?} and {FORMAT_VERSION_OPTIMIZER:?})"
        )));
    }
    let dtype = match get("dtype")? {
        "float32" => Dtype::F32,
        "float64" => Dtype::F64,
        other => {
            return Err(invalid(format!(
                "has unsupported dtype {other:?} in its metadata"
            )))
        }
    };
    let layer_sizes = get("layer_sizes")?
        .split(',')
        .map(|s| s.trim().parse::<usize>())
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|_| {
            invalid(format!(
                "has layer_sizes {:?} in its metadata, not a list of sizes",
                get("layer_sizes").unwrap_or_default()
            ))
        })?;
    let activations = get("activations")?
        .split(',')
        .map(|s| Activation::from_name(s.trim()))
        .collect::<Result<Vec<_>>>()?;
    let mut config = NetworkConfig::new(layer_sizes, activations, Loss::from_name(get("loss")?)?);
    if let Some(text) = meta.get("dropout") {
        let rates = text
            .split(',')
            .map(|s| s.trim().parse::<f64>())
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|_| {
                invalid(format!(
                    "has dropout {text:?} in its metadata, not a list of rates"
                ))
            })?;
        config = config.with_dropout(rates);
    }
    config.validate()?;
    Ok((config, dtype, version))
}

/// The optimizer's settings and step count in the metadata of a file of `version`, checked:
/// none in version 1; in version 2 exactly the keys of the optimizer named, with values in
/// their domains.
fn read_optimizer(
    meta: &HashMap<String, String>,
    version: &str,
) -> Result<Option<(OptimizerConfig, u64)>> {
    let ours = |k: &&String| *k == "optimizer" || k.starts_with("optimizer.");
    if version == FORMAT_VERSION {
        return match meta.keys().find(ours) {
            Some(key) => Err(invalid(format!(
                "has metadata {key:?}, but format_version {FORMAT_VERSION:?} holds no \
                 optimizer state"
            ))),
            None => Ok(None),
        };
    }
    let get = |key: &str| {
        meta.get(key).map(String::as_str).ok_or_else(|| {
            invalid(format!(
                "metadata lacks {key:?}, which format_version {version:?} needs"
            ))
        })
    };
    let number = |key: &str| {
        let text = get(key)?;
        text.parse::<f64>()
            .map_err(|_| invalid(format!("metadata {key:?} is {text:?}, not a number")))
    };
    let (config, keys): (_, &[&str]) = match get("optimizer")? {
        "sgd" => {
            let nesterov = match get("optimizer.nesterov")? {
                "true" => true,
                "false" => false,
                other => {
                    return Err(invalid(format!(
                        "metadata \"optimizer.nesterov\" is {other:?}, not \"true\" or \"false\""
                    )))
                }
            };
            let momentum = number("optimizer.momentum")?;
            let weight_decay = match meta.contains_key("optimizer.weight_decay") {
                true => number("optimizer.weight_decay")?,
                false => 0.0,
            };
            let keys = &[
                "optimizer.momentum",
                "optimizer.nesterov",
                "optimizer.weight_decay",
            ][..];
            let config = OptimizerConfig::Sgd {
                momentum,
                nesterov,
                weight_decay,
            };
            (config, keys)
        }
        "adam" => {
            let config = OptimizerConfig::Adam {
                beta_1: number("optimizer.beta_1")?,
                beta_2: number("optimizer.beta_2")?,
                epsilon: number("optimizer.epsilon")?,
            };
            (
                config,
                &["optimizer.beta_1", "optimizer.beta_2", "optimizer.epsilon"][..],
            )
        }
        "adamw" => {
            let config = OptimizerConfig::AdamW {
                beta_1: number("optimizer.beta_1")?,
                beta_2: number("optimizer.beta_2")?,
                epsilon: number("optimizer.epsilon")?,
                weight_decay: number("optimizer.weight_decay")?,
            };
            let keys = &[
                "optimizer.beta_1",
                "optimizer.beta_2",
                "optimizer.epsilon",
                "optimizer.weight_decay",
            ][..];
            (config, keys)
        }
        other => {
            return Err(invalid(format!(
                "metadata names optimizer {other:?}; expected \"sgd\", \"adam\" or \"adamw\""
            )))
        }
    };
    let known = |k: &str| k == "optimizer" || k == "optimizer.steps" || keys.contains(&k);
    if let Some(key) = meta.keys().filter(ours).find(|k| !known(k)) {
        return Err(invalid(format!(
            "has metadata {key:?}, which optimizer {:?} does not have",
            get("optimizer")?
        )));
    }
    config
        .validate()
        .map_err(|e| invalid(format!("has optimizer settings out of range: {e}")))?;
    let text = get("optimizer.steps")?;
    let steps = text
        .parse::<u64>()
        .ok()
        .filter(|&t| t <= Optimizer::<f64>::MAX_STEPS)
        .ok_or_else(|| {
            invalid(format!(
                "metadata \"optimizer.steps\" is {text:?}, not a count of steps up to {}",
                Optimizer::<f64>::MAX_STEPS
            ))
        })?;
    Ok(Some((config, steps)))
}

/// Values (weights and biases) of the architecture (overflow-checked).
fn n_params(config: &NetworkConfig) -> Option<u64> {
    config.layer_sizes.windows(2).try_fold(0u64, |total, w| {
        let params = (w[0] as u64)
            .checked_mul(w[1] as u64)?
            .checked_add(w[1] as u64)?;
        total.checked_add(params)
    })
}

/// Bytes of tensor data: `copies` of every parameter (the weights, then each optimizer
/// buffer), overflow-checked.
fn data_bytes(config: &NetworkConfig, dtype: Dtype, copies: u64) -> Result<u64> {
    n_params(config)
        .and_then(|n| n.checked_mul((dtype.bitsize() / 8) as u64))
        .and_then(|n| n.checked_mul(copies))
        .ok_or_else(|| invalid("describes an architecture too large to hold in memory"))
}

/// A network from the bytes of a safetensors file written by [`to_bytes`] or [`save`],
/// checked by the same rule as [`load`].
pub fn from_bytes(bytes: &[u8]) -> Result<AnyNetwork> {
    let total = bytes.len() as u64;
    let n = header_len(bytes, total)?;
    let layout = check_header(&bytes[8..8 + n], total)?;
    let tensors = SafeTensors::deserialize(bytes)
        .map_err(|e| invalid(format!("is not a valid safetensors file: {e}")))?;
    match layout.dtype {
        Dtype::F32 => Ok(AnyNetwork::F32(build(&layout, &tensors)?)),
        _ => Ok(AnyNetwork::F64(build(&layout, &tensors)?)),
    }
}

/// The tensor `name`, checked: its dtype is `T`'s, its shape `shape`, its values finite.
fn read<T: StoredFloat>(tensors: &SafeTensors, name: &str, shape: &[usize]) -> Result<Vec<T>> {
    let view = tensors
        .tensor(name)
        .map_err(|_| invalid(format!("lacks tensor {name:?}")))?;
    if view.dtype() != T::DTYPE {
        return Err(invalid(format!(
            "has tensor {name:?} of dtype {:?}, expected {:?}",
            view.dtype(),
            T::DTYPE
        )));
    }
    if view.shape() != shape {
        return Err(invalid(format!(
            "has tensor {name:?} of shape {:?}, expected {shape:?}",
            view.shape()
        )));
    }
    let values: Vec<T> = view
        .data()
        .chunks_exact(size_of::<T>())
        .map(T::read_le)
        .collect();
    if values.iter().any(|v| !v.is_finite()) {
        return Err(invalid(format!("has tensor {name:?} with NaN or infinity")));
    }
    Ok(values)
}

/// `W` of shape `(n_in, n_out)` from the values of `Wᵀ`, row-major, as the file holds it.
fn from_stored<T: StoredFloat>(w_t: &[T], n_in: usize, n_out: usize) -> Result<Array2<T>> {
    Ok(Array2::from_shape_vec((n_out, n_in), w_t.to_vec())
        .map_err(|e| invalid(format!("has a tensor that does not fit its shape: {e}")))?
        .reversed_axes()
        .as_standard_layout()
        .into_owned())
}

fn build<T: StoredFloat>(layout: &Layout, tensors: &SafeTensors) -> Result<Network<T>> {
    let config = &layout.config;
    let n_layers = config.layer_sizes.len() - 1;
    let buffers = layout.optimizer.map_or(0, |(c, _)| c.state_buffers());
    if tensors.len() != 2 * n_layers + buffers {
        return Err(invalid(format!(
            "holds {} tensors; its metadata needs {} (a weight and a bias per layer, and \
             {buffers} optimizer buffers)",
            tensors.len(),
            2 * n_layers + buffers
        )));
    }
    let mut weights = Vec::with_capacity(n_layers);
    for (k, n) in config.layer_sizes.windows(2).enumerate() {
        let (n_in, n_out) = (n[0], n[1]);
        let w_t = read::<T>(tensors, &format!("layers.{k}.weight"), &[n_out, n_in])?;
        let b = read::<T>(tensors, &format!("layers.{k}.bias"), &[n_out])?;
        weights.push((from_stored(&w_t, n_in, n_out)?, Array1::from_vec(b)));
    }
    let mut net = Network::new(config, 0)?;
    let views: Vec<_> = weights.iter().map(|(w, b)| (w.view(), b.view())).collect();
    net.set_weights(&views)?;
    if let Some((optimizer, steps)) = layout.optimizer {
        let n: usize = weights.iter().map(|(w, b)| w.len() + b.len()).sum();
        let state = |name: &str| -> Result<Vec<(Array2<T>, Array1<T>)>> {
            let flat = read::<T>(tensors, name, &[n])?;
            let mut rest = &flat[..];
            let mut per_layer = Vec::with_capacity(n_layers);
            for (w, _) in &weights {
                let (n_in, n_out) = w.dim();
                let (w_t, tail) = rest.split_at(n_in * n_out);
                let (b, tail) = tail.split_at(n_out);
                per_layer.push((from_stored(w_t, n_in, n_out)?, Array1::from_vec(b.to_vec())));
                rest = tail;
            }
            Ok(per_layer)
        };
        let first = if buffers >= 1 {
            state("optimizer.first")?
        } else {
            vec![]
        };
        let second = if buffers >= 2 {
            state("optimizer.second")?
        } else {
            vec![]
        };
        net.optimizer = Some(Optimizer::from_state(
            optimizer,
            first,
            second,
            steps,
            net.layers(),
        )?);
    }
    Ok(net)
}

/// Loads a file saved by [`save`] (or bytes of [`to_bytes`] written to a file): a regular
/// file, read no further than the size it had when opened, and checked by the same rule as
/// [`from_bytes`], its header before the rest is read.
pub fn load(path: &Path) -> Result<AnyNetwork> {
    let (file, total) = files::open_regular(path)?;
    let mut file = file.take(total);
    let read_error = |e: std::io::Error| match e.kind() {
        ErrorKind::UnexpectedEof => invalid(format!(
            "{} became shorter than its {total} bytes while being read",
            path.display()
        )),
        _ => files::io_error(path, e),
    };
    let mut bytes = vec![0u8; total.min(8) as usize];
    file.read_exact(&mut bytes).map_err(read_error)?;
    let n = header_len(&bytes, total)?;
    bytes.resize(8 + n, 0);
    file.read_exact(&mut bytes[8..]).map_err(read_error)?;
    check_header(&bytes[8..], total)?;
    try_reserve(&mut bytes, total - (8 + n as u64), "the file's tensors")?;
    file.read_to_end(&mut bytes).map_err(read_error)?;
    if bytes.len() as u64 != total {
        return Err(read_error(ErrorKind::UnexpectedEof.into()));
    }
    from_bytes(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FitConfig;

    fn net() -> Network<f32> {
        let config = NetworkConfig::new(
            vec![3, 4, 2],
            vec![Activation::Relu, Activation::Softmax],
            Loss::CrossEntropy,
        );
        Network::new(&config, 5).unwrap()
    }

    #[test]
    fn bytes_round_trip_exactly() {
        let a = net();
        assert_eq!(to_bytes(&a).unwrap(), to_bytes(&a).unwrap());
        match from_bytes(&to_bytes(&a).unwrap()).unwrap() {
            AnyNetwork::F32(b) => {
                assert_eq!(a.get_weights(), b.get_weights());
                assert_eq!(a.config(), b.config());
            }
            AnyNetwork::F64(_) => panic!("dtype changed"),
        }
    }

    #[test]
    fn files_round_trip_and_failed_saves_keep_the_old_file() {
        let dir = std::env::temp_dir().join(format!("ferroprop-io-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("model.safetensors");
        let a = net();
        save(&a, &path, false).unwrap();
        let AnyNetwork::F32(b) = load(&path).unwrap() else {
            panic!("dtype changed")
        };
        assert_eq!(a.get_weights(), b.get_weights());
        // A save into a folder that does not exist fails and leaves no temporary file.
        assert!(matches!(
            save(&a, &dir.join("missing").join("m.safetensors"), false),
            Err(Error::Io { .. })
        ));
        let before = std::fs::read(&path).unwrap();
        std::fs::create_dir_all(dir.join("blocked.safetensors")).unwrap();
        assert!(save(&a, &dir.join("blocked.safetensors"), false).is_err());
        assert_eq!(std::fs::read(&path).unwrap(), before);
        let leftovers: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// `net` after a few minibatch steps of `optimizer` on fixed data (shuffled), and the data.
    fn trained<T: StoredFloat>(
        optimizer: OptimizerConfig,
    ) -> (Network<T>, Array2<T>, Array1<usize>) {
        let config = NetworkConfig::new(
            vec![3, 4, 2],
            vec![Activation::Tanh, Activation::Softmax],
            Loss::CrossEntropy,
        );
        let mut net = Network::new(&config, 5).unwrap();
        let x = Array2::from_shape_fn((10, 3), |(i, j)| T::c(((i * 7 + j * 3) % 5) as f64 - 2.0));
        let y = Array1::from_shape_fn(10, |i| i % 2);
        let fit = FitConfig {
            epochs: 2,
            learning_rate: 0.05,
            batch_size: Some(4),
            optimizer,
            ..FitConfig::default()
        };
        let target = crate::Target::Labels(y.view());
        crate::fit(
            &mut net,
            x.view(),
            target,
            None,
            None,
            &fit,
            &mut crate::train::NoMonitor,
        )
        .unwrap();
        (net, x, y)
    }

    const OPTIMIZERS: [OptimizerConfig; 8] = [
        OptimizerConfig::Sgd {
            momentum: 0.0,
            nesterov: false,
            weight_decay: 0.0,
        },
        OptimizerConfig::Sgd {
            momentum: 0.9,
            nesterov: false,
            weight_decay: 0.0,
        },
        OptimizerConfig::Sgd {
            momentum: 0.5,
            nesterov: true,
            weight_decay: 0.0,
        },
        OptimizerConfig::Sgd {
            momentum: 0.5,
            nesterov: true,
            weight_decay: 0.25,
        },
        OptimizerConfig::AdamW {
            beta_1: 0.9,
            beta_2: 0.999,
            epsilon: 1e-8,
            weight_decay: 0.01,
        },
        OptimizerConfig::AdamW {
            beta_1: 0.1,
            beta_2: 0.3,
            epsilon: 1.0 / 3.0,
            weight_decay: 0.0,
        },
        OptimizerConfig::Adam {
            beta_1: 0.9,
            beta_2: 0.999,
            epsilon: 1e-8,
        },
        OptimizerConfig::Adam {
            beta_1: 0.1,
            beta_2: 0.3,
            epsilon: 1.0 / 3.0,
        },
    ];

    /// A network read back from its bytes has the optimizer's state it had (settings, step
    /// count, every buffer, bit for bit), writes the same bytes, and trains on to the same
    /// bits; a saved file holds that state only when asked.
    fn optimizer_state_round_trips<T: StoredFloat>() {
        for optimizer in OPTIMIZERS {
            let (mut a, x, y) = trained::<T>(optimizer);
            let bytes = to_bytes(&a).unwrap();
            let mut b = T::of(&mut from_bytes(&bytes).unwrap()).unwrap().clone();
            let (sa, sb) = (a.optimizer.as_ref().unwrap(), b.optimizer.as_ref().unwrap());
            assert_eq!(sa.config(), sb.config());
            assert_eq!(
                (sa.steps(), sa.first(), sa.second()),
                (sb.steps(), sb.first(), sb.second())
            );
            let layers = if optimizer.state_buffers() > 0 { 2 } else { 0 };
            assert_eq!(sa.first().len(), layers, "{optimizer:?}");
            assert_eq!(to_bytes(&b).unwrap(), bytes);
            let fit = FitConfig {
                epochs: 3,
                learning_rate: 0.05,
                batch_size: Some(3),
                optimizer,
                seed: 1,
                ..FitConfig::default()
            };
            for net in [&mut a, &mut b] {
                let target = crate::Target::Labels(y.view());
                crate::fit(
                    net,
                    x.view(),
                    target,
                    None,
                    None,
                    &fit,
                    &mut crate::train::NoMonitor,
                )
                .unwrap();
            }
            assert_eq!(a.get_weights(), b.get_weights(), "{optimizer:?}");
            // Weights only unless asked: the bytes of the network without its optimizer.
            let weights_only = encode(&a, false).unwrap();
            a.reset_optimizer();
            assert_eq!(weights_only, to_bytes(&a).unwrap());
        }
    }

    #[test]
    fn optimizer_state_round_trips_f32() {
        optimizer_state_round_trips::<f32>();
    }

    #[test]
    fn optimizer_state_round_trips_f64() {
        optimizer_state_round_trips::<f64>();
    }

    /// `bytes` with its header replaced by `header` padded with `pad` spaces.
    fn with_header(bytes: &[u8], header: &serde_json::Value, pad: usize) -> Vec<u8> {
        let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        let mut json = serde_json::to_vec(header).unwrap();
        json.resize(json.len() + pad, b' ');
        let mut out = (json.len() as u64).to_le_bytes().to_vec();
        out.extend_from_slice(&json);
        out.extend_from_slice(&bytes[8 + n..]);
        out
    }

    fn header_of(bytes: &[u8]) -> serde_json::Value {
        let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        serde_json::from_slice(&bytes[8..8 + n]).unwrap()
    }

    /// Dropout's rates round trip in the metadata (written only when one is not 0: a file
    /// without the key has none), and bad ones are refused.
    #[test]
    fn dropout_rates_round_trip() {
        let config = NetworkConfig::new(
            vec![3, 4, 5, 2],
            vec![Activation::Relu, Activation::Tanh, Activation::Softmax],
            Loss::CrossEntropy,
        );
        let plain = Network::<f64>::new(&config, 5).unwrap();
        assert!(header_of(&to_bytes(&plain).unwrap())["__metadata__"]
            .get("dropout")
            .is_none());
        let rates = vec![0.1, 1e-5];
        let net = Network::<f64>::new(&config.clone().with_dropout(rates.clone()), 5).unwrap();
        let bytes = to_bytes(&net).unwrap();
        let mut header = header_of(&bytes);
        assert_eq!(header["__metadata__"]["dropout"], "0.1,1e-5");
        let AnyNetwork::F64(back) = from_bytes(&bytes).unwrap() else {
            panic!("dtype changed")
        };
        assert_eq!(back.dropout(), &rates[..]);
        for (bad, message) in [
            ("0.1", "one per hidden layer"),
            ("0.1,1", "dropout[1] = 1.0"),
            ("0.1,x", "not a list of rates"),
        ] {
            header["__metadata__"]["dropout"] = bad.into();
            let err = from_bytes(&with_header(&bytes, &header, 0)).unwrap_err();
            assert!(err.to_string().contains(message), "{bad}: {err}");
        }
    }

    /// `from_bytes` and `load` give the same answer for the same bytes: a header padded up
    /// to the bound loads both ways, one byte more is refused both ways.
    #[test]
    fn bytes_and_files_follow_one_header_rule() {
        let dir = std::env::temp_dir().join(format!("ferroprop-rule-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("m.safetensors");
        let good = to_bytes(&trained::<f64>(OptimizerConfig::adam()).0).unwrap();
        let header = header_of(&good);
        let json_len = serde_json::to_vec(&header).unwrap().len();
        let at_bound = MAX_HEADER_BYTES as usize - json_len;
        for (pad, ok) in [
            (0, true),
            (at_bound, true),
            (at_bound + 1, false),
            (2 << 20, false),
        ] {
            let bytes = with_header(&good, &header, pad);
            std::fs::write(&path, &bytes).unwrap();
            let (mem, file) = (from_bytes(&bytes), load(&path));
            assert_eq!(mem.is_ok(), ok, "pad {pad}: {:?}", mem.err());
            assert_eq!(mem.err(), file.err(), "pad {pad}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Metadata of the optimizer is checked as strictly as the architecture.
    #[test]
    fn bad_optimizer_metadata_is_refused() {
        let good = to_bytes(&trained::<f64>(OptimizerConfig::adam()).0).unwrap();
        let header = header_of(&good);
        let cases: [(&str, Option<&str>, &str); 10] = [
            ("format_version", Some("1"), "holds no optimizer state"),
            ("optimizer", Some("rmsprop"), "rmsprop"),
            ("optimizer", None, "lacks"),
            ("optimizer.beta_1", Some("1.0"), "beta_1"),
            ("optimizer.beta_2", Some("NaN"), "beta_2"),
            ("optimizer.epsilon", Some("0"), "epsilon"),
            ("optimizer.epsilon", Some("x"), "not a number"),
            ("optimizer.steps", Some("-1"), "steps"),
            ("optimizer.steps", Some("9223372036854775808"), "steps"),
            ("optimizer.momentum", Some("0.5"), "does not have"),
        ];
        for (key, value, message) in cases {
            let mut h = header.clone();
            let meta = h["__metadata__"].as_object_mut().unwrap();
            match value {
                Some(v) => meta.insert(key.into(), v.into()),
                None => meta.remove(key),
            };
            let err = from_bytes(&with_header(&good, &h, 0))
                .unwrap_err()
                .to_string();
            assert!(err.contains(message), "{key}={value:?}: {err}");
        }
        // Adam's second moments are means of squares: a negative one is refused.
        let start = header["optimizer.second"]["data_offsets"][0]
            .as_u64()
            .unwrap() as usize;
        let offset = 8 + json_len(&good) + start;
        let mut bytes = good.clone();
        bytes[offset..offset + 8].copy_from_slice(&(-1.0f64).to_le_bytes());
        let err = from_bytes(&bytes).unwrap_err().to_string();
        assert!(err.contains("non-negative"), "{err}");
        bytes[offset..offset + 8].copy_from_slice(&f64::INFINITY.to_le_bytes());
        let err = from_bytes(&bytes).unwrap_err().to_string();
        assert!(
            err.contains("optimizer.second") && err.contains("infinity"),
            "{err}"
        );
    }

    fn json_len(bytes: &[u8]) -> usize {
        u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize
    }

    /// Anything but a regular file is refused when opened, before a byte is read.
    #[cfg(unix)]
    #[test]
    fn only_regular_files_load() {
        for (path, kind) in [("/dev/null", "character device"), ("/", "folder")] {
            let err = load(Path::new(path)).unwrap_err();
            assert!(err.to_string().contains(kind), "{path}: {err}");
            assert!(matches!(err, Error::Io { .. }));
        }
    }

    #[test]
    fn every_truncation_and_garbage_is_an_error() {
        let bytes = to_bytes(&net()).unwrap();
        for cut in 0..bytes.len() {
            assert!(from_bytes(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut huge = bytes.clone();
        huge[..8].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(from_bytes(&huge).is_err());
        assert!(from_bytes(b"not a safetensors file at all").is_err());
        // A NaN weight is refused.
        let mut nan = bytes.clone();
        let n = nan.len();
        nan[n - 4..].copy_from_slice(&f32::NAN.to_le_bytes());
        assert!(from_bytes(&nan).unwrap_err().to_string().contains("NaN"));
    }
}
