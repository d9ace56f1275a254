//! TOTP code input: `parse_totp_code` accepts exactly six ASCII digits once surrounding
//! whitespace is trimmed (`str::trim`; nothing else, no inner spaces or dashes) and returns them.

#![no_main]

use libfuzzer_sys::fuzz_target;
use pim_domain::mfa::{RECOVERY_CODE_ALPHABET, RECOVERY_CODE_LEN, TOTP_DIGITS, parse_recovery_code, parse_totp_code};

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else { return };

    // The documented rule, written independently of the parser.
    let core = input.trim_matches(char::is_whitespace);
    let expected = (core.chars().count() == TOTP_DIGITS && core.chars().all(|c| c.is_ascii_digit())).then_some(core);

    match parse_totp_code(input) {
        Ok(code) => {
            assert_eq!(Some(code.as_str()), expected, "accepted {input:?}");
            // The result is canonical: it parses to itself.
            assert_eq!(parse_totp_code(&code).ok().as_deref(), Some(code.as_str()));
            assert_eq!(code.len(), TOTP_DIGITS);
        }
        Err(e) => {
            assert_eq!(expected, None, "refused {input:?}");
            assert_eq!(e.kind, pim_domain::ErrorKind::InvalidInput);
            // One fixed sentence, whatever was sent: nothing of the input is echoed back.
            assert_eq!(e.message, "a code must be the 6 digits your authenticator app shows");
        }
    }

    // Recovery codes: case, whitespace and dashes do not matter; ten letters or digits of the
    // alphabet remain, and the normalized code parses to itself.
    let normalized: String =
        input.chars().filter(|c| !c.is_whitespace() && *c != '-').map(|c| c.to_ascii_lowercase()).collect();
    let valid =
        normalized.len() == RECOVERY_CODE_LEN && normalized.bytes().all(|b| RECOVERY_CODE_ALPHABET.contains(&b));
    match parse_recovery_code(input) {
        Ok(code) => {
            assert!(valid, "accepted {input:?}");
            assert_eq!(code, normalized);
            assert_eq!(parse_recovery_code(&code).ok().as_deref(), Some(code.as_str()));
        }
        Err(_) => assert!(!valid, "refused {input:?}"),
    }
});
