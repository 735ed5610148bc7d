//! Fuzzes the model loader: any bytes give a network or an error, never a panic, and a
//! network that loads saves back to bytes that load to the same weights.
//!
//! Run (from fuzz/): `RUSTC_BOOTSTRAP=1 cargo fuzz run load -- -max_total_time=60`
#![no_main]

use ferroprop::io::{from_bytes, to_bytes, AnyNetwork};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match from_bytes(data) {
        Err(_) => {}
        Ok(AnyNetwork::F32(net)) => {
            let again = from_bytes(&to_bytes(&net).unwrap()).unwrap();
            let AnyNetwork::F32(again) = again else { panic!("dtype changed") };
            assert_eq!(net.get_weights(), again.get_weights());
        }
        Ok(AnyNetwork::F64(net)) => {
            let again = from_bytes(&to_bytes(&net).unwrap()).unwrap();
            let AnyNetwork::F64(again) = again else { panic!("dtype changed") };
            assert_eq!(net.get_weights(), again.get_weights());
        }
    }
});
