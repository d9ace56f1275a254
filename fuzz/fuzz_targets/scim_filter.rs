//! SCIM filters, PATCH paths and PATCH bodies (`/scim/v2`): any text is parsed or refused without a
//! panic; a parsed filter prints to a canonical text that parses back to the same filter; compiling
//! and evaluating it against a user and a group, and applying any PATCH body to them, never panics,
//! and what a PATCH leaves is still a canonical resource (normalizing it again changes nothing).

#![no_main]

use libfuzzer_sys::fuzz_target;
use pim_scim::schema::ResourceKind;
use pim_scim::{filter, normalize, patch};
use serde_json::json;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    let user = json!({
        "id": "1", "userName": "ann", "displayName": "Ann", "active": true, "externalId": "e1",
        "name": {"givenName": "Ann", "familyName": "Lee"},
        "emails": [{"value": "ann@example.com", "type": "work", "primary": true}],
        "meta": {"lastModified": "2026-12-07T10:00:00Z"},
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "R"}
    });
    let group = json!({"id": "2", "displayName": "G", "members": [{"value": "1", "type": "User"}]});
    match selector % 3 {
        0 => {
            let Ok(f) = filter::parse(text) else { return };
            let printed = f.to_string();
            if printed.len() <= filter::MAX_LEN {
                assert_eq!(filter::parse(&printed).as_ref(), Ok(&f), "{printed}");
            }
            for (kind, resource) in [(ResourceKind::User, &user), (ResourceKind::Group, &group)] {
                if let Ok(c) = f.compile(kind) {
                    let _ = c.matches(resource);
                    let _ = c.simple_eq();
                }
            }
        }
        1 => {
            let _ = filter::parse_path(text);
        }
        _ => {
            let Ok(body) = serde_json::from_str::<serde_json::Value>(text) else { return };
            let Ok(ops) = patch::parse_request(&body) else { return };
            for (kind, resource) in [(ResourceKind::User, &user), (ResourceKind::Group, &group)] {
                let Ok(mut r) = normalize::resource(kind, resource) else { continue };
                if patch::apply(kind, &mut r, &ops).is_ok()
                    && let Ok(again) = normalize::resource(kind, &r)
                {
                    assert_eq!(again, r, "a patched resource stays canonical");
                }
            }
        }
    }
});
