//! PostgreSQL binary COPY streams, whatever their bytes: an error, never a panic.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| vibe_piper::connector::postgres::fuzz::copy_stream(data));
