//! MySQL binary-protocol row packets, whatever their bytes: an error, never a panic.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| vibe_piper::connector::mysql::fuzz::binary_rows(data));
