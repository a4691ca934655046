//! Source URLs, whatever their text: an error, never a panic.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    vibe_piper::connector::postgres::fuzz::url(data);
    vibe_piper::connector::mysql::fuzz::url(data);
    let _ = vibe_piper::error::redact_url(&String::from_utf8_lossy(data));
});
