//! `cargo fuzz run parse`: the Dockerfile parser, instruction typing and word
//! expansion must never panic, whatever the bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    berth_build::fuzz_one(data);
});
