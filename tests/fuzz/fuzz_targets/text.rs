//! The sanitiser every human-readable line of the command line goes through
//! (`cli::visible`): whatever the text, what comes out holds no control character a
//! terminal acts on, and clean text comes out unchanged. Also the input rule
//! (`model::is_clean_text`) and the text parsers that use it, which must never accept what
//! the sanitiser would have to change.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let shown = kluis::cli::visible(&text);
    assert!(kluis::model::is_clean_text(&shown), "{shown:?}");
    assert!(!shown.contains('\u{1b}') && !shown.contains('\u{9b}') && !shown.contains('\u{7}'));
    if kluis::model::is_clean_text(&text) {
        assert_eq!(&*shown, &*text);
    }
    if let Ok(body) = kluis::model::parse_note_body(&text) {
        assert_eq!(&*kluis::cli::visible(&body), body.as_str());
    }
    if let Ok(name) = kluis::model::parse_name("name", &text) {
        assert!(!name.chars().any(char::is_control));
    }
});
