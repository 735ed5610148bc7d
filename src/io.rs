//! Saving and loading networks in the safetensors format.
//!
//! A file holds, for each layer `k`, the tensors `layers.{k}.weight` — `Wᵀ`, shape
//! `(n_out, n_in)`, the layout of PyTorch's `nn.Linear` — and `layers.{k}.bias`, shape
//! `(n_out,)`, in the network's dtype (F32 or F64), with the architecture in the metadata:
//! `format = "ferroprop"`, `format_version = "1"`, `dtype`, `layer_sizes` (comma-separated),
//! `activations` (comma-separated) and `loss`.
//!
//! Loading trusts nothing: the header length is bounded before it is read, the metadata is
//! parsed and checked and the file's size compared with what the architecture needs before
//! the tensors are read, and then every tensor's name, dtype, shape and finiteness is
//! checked before a network is built. Saving writes a temporary file in the target's folder
//! and renames it over the target: an interrupted save leaves the previous file intact.

use crate::{Activation, Error, Float, Loss, Network, NetworkConfig, Result};
use ndarray::{Array1, Array2};
use safetensors::{Dtype, SafeTensors};
use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::Path;

/// The value of the `format` metadata key.
pub const FORMAT: &str = "ferroprop";
/// The value of the `format_version` metadata key this version writes and reads.
pub const FORMAT_VERSION: &str = "1";
/// Headers longer than this are refused before being read (ferroprop's are a few KiB).
pub const MAX_HEADER_BYTES: u64 = 1 << 20;

/// A network of either dtype, as read from a file.
#[derive(Debug, Clone)]
pub enum AnyNetwork {
    F32(Network<f32>),
    F64(Network<f64>),
}

/// The floats that have a safetensors dtype.
pub trait StoredFloat: Float {
    const DTYPE: Dtype;
    fn write_le(self, out: &mut Vec<u8>);
    fn read_le(bytes: &[u8]) -> Self;
    /// The network of this dtype inside `any`, if it holds one.
    fn of(any: &mut AnyNetwork) -> Option<&mut Network<Self>>;
    fn of_ref(any: &AnyNetwork) -> Option<&Network<Self>>;
    fn wrap(net: Network<Self>) -> AnyNetwork;
}

/// `StoredFloat` for a float type, its safetensors dtype and its `AnyNetwork` variant.
macro_rules! stored_float {
    ($t:ty, $dtype:ident, $variant:ident) => {
        impl StoredFloat for $t {
            const DTYPE: Dtype = Dtype::$dtype;
            fn of(any: &mut AnyNetwork) -> Option<&mut Network<Self>> {
                match any {
                    AnyNetwork::$variant(net) => Some(net),
                    _ => None,
                }
            }
            fn of_ref(any: &AnyNetwork) -> Option<&Network<Self>> {
                match any {
                    AnyNetwork::$variant(net) => Some(net),
                    _ => None,
                }
            }
            fn wrap(net: Network<Self>) -> AnyNetwork {
                AnyNetwork::$variant(net)
            }
            fn write_le(self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
            fn read_le(bytes: &[u8]) -> Self {
                <$t>::from_le_bytes(bytes.try_into().expect("chunks of the type's size"))
            }
        }
    };
}

stored_float!(f32, F32, F32);
stored_float!(f64, F64, F64);

fn invalid(msg: impl Into<String>) -> Error {
    Error::value("file", msg)
}

fn io_error(path: &Path, err: std::io::Error) -> Error {
    Error::Io {
        kind: err.kind(),
        msg: format!("{}: {err}", path.display()),
    }
}

/// The network as the bytes of a safetensors file: the 8-byte little-endian header length,
/// the JSON header (keys in sorted order, padded with spaces to a multiple of 8 bytes), then
/// the tensors' data in header order. The same network always gives the same bytes.
pub fn to_bytes<T: StoredFloat>(net: &Network<T>) -> Result<Vec<u8>> {
    let config = net.config();
    let list = |v: Vec<String>| v.join(",");
    let mut header = serde_json::Map::new();
    header.insert(
        "__metadata__".into(),
        serde_json::json!({
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "dtype": T::NAME,
            "layer_sizes": list(config.layer_sizes.iter().map(|n| n.to_string()).collect()),
            "activations": list(config.activations.iter().map(|a| a.name().to_owned()).collect()),
            "loss": config.loss.name(),
        }),
    );
    let dtype = if T::DTYPE == Dtype::F32 { "F32" } else { "F64" };
    let mut data = Vec::new();
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
    let mut json = serde_json::to_vec(&header)
        .map_err(|e| Error::value("network", format!("could not be serialized: {e}")))?;
    json.resize(json.len().div_ceil(8) * 8, b' ');
    let mut bytes = Vec::with_capacity(8 + json.len() + data.len());
    bytes.extend_from_slice(&(json.len() as u64).to_le_bytes());
    bytes.extend_from_slice(&json);
    bytes.extend_from_slice(&data);
    Ok(bytes)
}

/// Saves atomically: a temporary file in the same folder, flushed, then renamed over `path`.
pub fn save<T: StoredFloat>(net: &Network<T>, path: &Path) -> Result<()> {
    let bytes = to_bytes(net)?;
    let name = path
        .file_name()
        .ok_or_else(|| Error::value("path", format!("{} does not name a file", path.display())))?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let nonce = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let tmp = dir.join(format!(
        ".{}.{}-{nonce}.tmp",
        name.to_string_lossy(),
        std::process::id()
    ));
    let written = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(&bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    written.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io_error(path, e)
    })
}

/// The architecture and dtype named by a header's metadata, checked.
fn read_config(metadata: Option<&HashMap<String, String>>) -> Result<(NetworkConfig, Dtype)> {
    let meta = metadata.ok_or_else(|| invalid("has no metadata: not a ferroprop file"))?;
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
    if version != FORMAT_VERSION {
        return Err(invalid(format!(
            "format_version {version:?} is not supported (this version reads {FORMAT_VERSION:?})"
        )));
    }
    let dtype = match get("dtype")? {
        "float32" => Dtype::F32,
        "float64" => Dtype::F64,
        other => return Err(invalid(format!("unsupported dtype {other:?} in metadata"))),
    };
    let layer_sizes = get("layer_sizes")?
        .split(',')
        .map(|s| s.trim().parse::<usize>())
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|_| {
            invalid(format!(
                "layer_sizes {:?} is not a list of sizes",
                get("layer_sizes").unwrap_or_default()
            ))
        })?;
    let activations = get("activations")?
        .split(',')
        .map(|s| Activation::from_name(s.trim()))
        .collect::<Result<Vec<_>>>()?;
    let config = NetworkConfig::new(layer_sizes, activations, Loss::from_name(get("loss")?)?);
    config.validate()?;
    Ok((config, dtype))
}

/// Bytes of tensor data the architecture needs (overflow-checked).
fn data_bytes(config: &NetworkConfig, dtype: Dtype) -> Result<u64> {
    config
        .layer_sizes
        .windows(2)
        .try_fold(0u64, |total, w| {
            let params = (w[0] as u64)
                .checked_mul(w[1] as u64)?
                .checked_add(w[1] as u64)?;
            total.checked_add(params.checked_mul((dtype.bitsize() / 8) as u64)?)
        })
        .ok_or_else(|| invalid("the architecture in its metadata is too large"))
}

/// A network from the bytes of a safetensors file written by [`to_bytes`] or [`save`].
pub fn from_bytes(bytes: &[u8]) -> Result<AnyNetwork> {
    let (_, metadata) = SafeTensors::read_metadata(bytes)
        .map_err(|e| invalid(format!("is not a valid safetensors file: {e}")))?;
    let (config, dtype) = read_config(metadata.metadata().as_ref())?;
    let tensors = SafeTensors::deserialize(bytes)
        .map_err(|e| invalid(format!("is not a valid safetensors file: {e}")))?;
    match dtype {
        Dtype::F32 => Ok(AnyNetwork::F32(build(&config, &tensors)?)),
        _ => Ok(AnyNetwork::F64(build(&config, &tensors)?)),
    }
}

fn build<T: StoredFloat>(config: &NetworkConfig, tensors: &SafeTensors) -> Result<Network<T>> {
    let n_layers = config.layer_sizes.len() - 1;
    if tensors.len() != 2 * n_layers {
        return Err(invalid(format!(
            "holds {} tensors; its architecture needs {} (a weight and a bias per layer)",
            tensors.len(),
            2 * n_layers
        )));
    }
    let mut weights = Vec::with_capacity(n_layers);
    for (k, n) in config.layer_sizes.windows(2).enumerate() {
        let (n_in, n_out) = (n[0], n[1]);
        let read = |name: String, shape: &[usize]| -> Result<Vec<T>> {
            let view = tensors
                .tensor(&name)
                .map_err(|_| invalid(format!("lacks tensor {name:?}")))?;
            if view.dtype() != T::DTYPE {
                return Err(invalid(format!(
                    "tensor {name:?} has dtype {:?}, expected {:?}",
                    view.dtype(),
                    T::DTYPE
                )));
            }
            if view.shape() != shape {
                return Err(invalid(format!(
                    "tensor {name:?} has shape {:?}, expected {shape:?}",
                    view.shape()
                )));
            }
            let values: Vec<T> = view
                .data()
                .chunks_exact(size_of::<T>())
                .map(T::read_le)
                .collect();
            if values.iter().any(|v| !v.is_finite()) {
                return Err(invalid(format!("tensor {name:?} contains NaN or infinity")));
            }
            Ok(values)
        };
        let w_t = read(format!("layers.{k}.weight"), &[n_out, n_in])?;
        let b = read(format!("layers.{k}.bias"), &[n_out])?;
        let w = Array2::from_shape_vec((n_out, n_in), w_t)
            .map_err(|e| invalid(e.to_string()))?
            .reversed_axes()
            .as_standard_layout()
            .into_owned();
        weights.push((w, Array1::from_vec(b)));
    }
    let mut net = Network::new(config, 0)?;
    let views: Vec<_> = weights.iter().map(|(w, b)| (w.view(), b.view())).collect();
    net.set_weights(&views)?;
    Ok(net)
}

/// Loads a file saved by [`save`], checking its size against its header before reading
/// the tensors.
pub fn load(path: &Path) -> Result<AnyNetwork> {
    let mut file = std::fs::File::open(path).map_err(|e| io_error(path, e))?;
    let len = file.metadata().map_err(|e| io_error(path, e))?.len();
    if len < 8 {
        return Err(invalid(format!(
            "is {len} bytes long: too short for a safetensors file"
        )));
    }
    let mut head = [0u8; 8];
    file.read_exact(&mut head).map_err(|e| io_error(path, e))?;
    let header_len = u64::from_le_bytes(head);
    if header_len > MAX_HEADER_BYTES {
        return Err(invalid(format!(
            "declares a header of {header_len} bytes; ferroprop files have headers under {MAX_HEADER_BYTES}"
        )));
    }
    if 8 + header_len > len {
        return Err(invalid(format!(
            "is truncated: it declares a header of {header_len} bytes but has only {} after its length",
            len - 8
        )));
    }
    let mut header = vec![0u8; header_len as usize];
    file.read_exact(&mut header)
        .map_err(|e| io_error(path, e))?;
    let parsed: serde_json::Value = serde_json::from_slice(&header)
        .map_err(|e| invalid(format!("has a header that is not JSON: {e}")))?;
    let metadata: Option<HashMap<String, String>> = parsed
        .get("__metadata__")
        .map(|m| serde_json::from_value(m.clone()))
        .transpose()
        .map_err(|e| invalid(format!("has metadata that is not a string map: {e}")))?;
    let (config, dtype) = read_config(metadata.as_ref())?;
    let expected = 8 + header_len + data_bytes(&config, dtype)?;
    if len != expected {
        return Err(invalid(format!(
            "is {len} bytes long; the architecture in its header needs {expected} (truncated or padded)"
        )));
    }
    let mut bytes = head.to_vec();
    bytes.extend_from_slice(&header);
    file.read_to_end(&mut bytes)
        .map_err(|e| io_error(path, e))?;
    from_bytes(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

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
        save(&a, &path).unwrap();
        let AnyNetwork::F32(b) = load(&path).unwrap() else {
            panic!("dtype changed")
        };
        assert_eq!(a.get_weights(), b.get_weights());
        // A save into a folder that does not exist fails and leaves no temporary file.
        assert!(matches!(
            save(&a, &dir.join("missing").join("m.safetensors")),
            Err(Error::Io { .. })
        ));
        let before = std::fs::read(&path).unwrap();
        std::fs::create_dir_all(dir.join("blocked.safetensors")).unwrap();
        assert!(save(&a, &dir.join("blocked.safetensors")).is_err());
        assert_eq!(std::fs::read(&path).unwrap(), before);
        let leftovers: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
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
