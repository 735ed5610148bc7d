//! Dtype erasure: a network of either float type behind one value, for the binding and for
//! files whose dtype is known only once they are read.

use crate::{Float, Network};

/// A network of either dtype.
#[derive(Debug, Clone)]
pub enum AnyNetwork {
    F32(Network<f32>),
    F64(Network<f64>),
}

impl AnyNetwork {
    /// The bytes of its parameters and optimizer state (`Network::param_bytes`).
    pub fn param_bytes(&self) -> usize {
        match self {
            AnyNetwork::F32(net) => net.param_bytes(),
            AnyNetwork::F64(net) => net.param_bytes(),
        }
    }
}

/// The floats an `AnyNetwork` can hold.
pub trait NetworkFloat: Float {
    /// The network of this dtype inside `any`, if it holds one.
    fn of(any: &mut AnyNetwork) -> Option<&mut Network<Self>>;
    fn of_ref(any: &AnyNetwork) -> Option<&Network<Self>>;
    fn wrap(net: Network<Self>) -> AnyNetwork;
    /// The network of this dtype `any` holds, if it holds one.
    fn into_inner(any: AnyNetwork) -> Option<Network<Self>>;
}

/// `NetworkFloat` for a float type and its `AnyNetwork` variant.
macro_rules! network_float {
    ($t:ty, $variant:ident) => {
        impl NetworkFloat for $t {
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
            fn into_inner(any: AnyNetwork) -> Option<Network<Self>> {
                match any {
                    AnyNetwork::$variant(net) => Some(net),
                    _ => None,
                }
            }
        }
    };
}

network_float!(f32, F32);
network_float!(f64, F64);
