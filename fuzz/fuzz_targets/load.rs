//! Fuzzes the model loader: any bytes give a network or an error, never a panic, and a
//! network that loads saves back to bytes that load to the same weights and write the same
//! bytes again (the optimizer's state included).
//!
//! Run (from fuzz/): `RUSTC_BOOTSTRAP=1 cargo fuzz run load -- -max_total_time=60`
#![no_main]

use ferroprop::io::{from_bytes, to_bytes, StoredFloat};
use ferroprop::AnyNetwork;
use ferroprop::Network;
use libfuzzer_sys::fuzz_target;

fn round_trip<T: StoredFloat>(net: &Network<T>) {
    let bytes = to_bytes(net).unwrap();
    let again = from_bytes(&bytes).unwrap();
    let again = T::of_ref(&again).expect("dtype kept");
    assert_eq!(net.get_weights(), again.get_weights());
    assert_eq!(to_bytes(again).unwrap(), bytes);
}

fuzz_target!(|data: &[u8]| {
    match from_bytes(data) {
        Err(_) => {}
        Ok(AnyNetwork::F32(net)) => round_trip(&net),
        Ok(AnyNetwork::F64(net)) => round_trip(&net),
    }
});
