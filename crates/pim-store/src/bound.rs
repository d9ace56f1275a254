//! Bounds every field of an audit event before it is chained, so no caller can grow the log by
//! more than a few kilobytes per event, whatever it submits.
//!
//! A text longer than [`MAX_TEXT_CHARS`] is kept as a short prefix with its length and SHA-256,
//! which is enough to investigate (and to match against a suspect value) without storing it.
//! Every legitimate value fits whole: the longest is a justification (2,000 characters).

use pim_domain::audit::AuditDraft;
use pim_domain::message::count;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// The longest text kept whole, in characters.
pub const MAX_TEXT_CHARS: usize = 2048;
/// How much of a longer text is kept, in characters.
pub const PREFIX_CHARS: usize = 64;
/// The most elements of one JSON array, or members of one object, kept in `details`.
pub const MAX_ITEMS: usize = 1000;
/// The deepest nesting of `details` kept as JSON; anything deeper is kept as bounded text.
pub const MAX_DEPTH: usize = 8;
/// The longest member name kept whole in `details`, in characters.
pub const MAX_KEY_CHARS: usize = 128;

/// `text` itself when it is short enough, else `"<prefix>… [N characters, sha256 HEX]"`.
pub fn bound_text(text: String) -> String {
    bound_to(text, MAX_TEXT_CHARS)
}

fn bound_to(text: String, max_chars: usize) -> String {
    // A text of at most `max_chars` bytes has at most that many characters: no count needed.
    if text.len() <= max_chars {
        return text;
    }
    let chars = text.chars().count();
    if chars <= max_chars {
        return text;
    }
    let prefix: String = text.chars().take(PREFIX_CHARS).collect();
    let hash = hex::encode(Sha256::digest(text.as_bytes()));
    format!("{prefix}… [{chars} characters, sha256 {hash}]")
}

/// The draft with every text field and every part of `details` bounded.
pub fn bound_draft(mut d: AuditDraft) -> AuditDraft {
    d.action = bound_text(d.action);
    for field in [
        &mut d.error_code,
        &mut d.actor_name,
        &mut d.justification,
        &mut d.ticket,
        &mut d.http_request_id,
        &mut d.client_addr,
    ] {
        *field = field.take().map(bound_text);
    }
    d.details = bound_json(std::mem::take(&mut d.details), 0);
    d
}

fn bound_json(v: Value, depth: usize) -> Value {
    match v {
        Value::String(s) => Value::String(bound_text(s)),
        Value::Array(items) if depth < MAX_DEPTH => {
            let total = items.len();
            let mut kept: Vec<Value> = items.into_iter().take(MAX_ITEMS).map(|i| bound_json(i, depth + 1)).collect();
            if total > MAX_ITEMS {
                kept.push(Value::String(format!("… and {} more", total - MAX_ITEMS)));
            }
            Value::Array(kept)
        }
        Value::Object(members) if depth < MAX_DEPTH => {
            let total = members.len();
            let mut kept: Map<String, Value> = members
                .into_iter()
                .take(MAX_ITEMS)
                .map(|(k, v)| (bound_to(k, MAX_KEY_CHARS), bound_json(v, depth + 1)))
                .collect();
            if total > MAX_ITEMS {
                kept.insert(
                    "…".into(),
                    Value::String(format!("and {}", count(total - MAX_ITEMS, "more member", "more members"))),
                );
            }
            Value::Object(kept)
        }
        deep @ (Value::Array(_) | Value::Object(_)) => Value::String(bound_text(deep.to_string())),
        scalar => scalar,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn short_text_is_kept_whole() {
        let justification = "x".repeat(2000);
        assert_eq!(bound_text(justification.clone()), justification);
        // Multi-byte characters are counted as characters, not bytes.
        let names = "é".repeat(MAX_TEXT_CHARS);
        assert_eq!(bound_text(names.clone()), names);
    }

    #[test]
    fn long_text_keeps_prefix_length_and_hash() {
        let long = format!("{}{}", "p".repeat(PREFIX_CHARS), "q".repeat(1_000_000));
        let hash = hex::encode(Sha256::digest(long.as_bytes()));
        let kept = bound_text(long);
        assert_eq!(kept, format!("{}… [1000064 characters, sha256 {hash}]", "p".repeat(PREFIX_CHARS)));
        assert!(kept.len() < 200);
    }

    #[test]
    fn prefix_never_splits_a_character() {
        let kept = bound_text("ü".repeat(MAX_TEXT_CHARS + 1));
        assert!(kept.starts_with(&"ü".repeat(PREFIX_CHARS)));
        assert!(kept.contains(&format!("[{} characters", MAX_TEXT_CHARS + 1)));
    }

    #[test]
    fn every_field_and_nested_detail_is_bounded() {
        let big = "n".repeat(100_000);
        let mut nested = json!("leaf");
        for _ in 0..20 {
            nested = json!([nested]);
        }
        let d = bound_draft(AuditDraft {
            action: big.clone(),
            error_code: Some(big.clone()),
            actor_name: Some(big.clone()),
            justification: Some(big.clone()),
            ticket: Some(big.clone()),
            http_request_id: Some(big.clone()),
            client_addr: Some(big.clone()),
            details: json!({
                "name": big.clone(),
                big.clone(): 1,
                "list": vec![big.clone(); 3],
                "many": (0..5000).collect::<Vec<_>>(),
                "deep": nested,
            }),
            ..AuditDraft::default()
        });
        let stored = serde_json::to_string(&d).expect("serializes");
        assert!(stored.len() < 16_000, "{} bytes stored", stored.len());
        assert_eq!(d.details["many"].as_array().map(Vec::len), Some(MAX_ITEMS + 1));
        assert_eq!(d.details["many"][MAX_ITEMS], json!("… and 4000 more"));
        assert_eq!(d.details["many"][7], json!(7), "numbers are kept as they are");
        let deep = d.details["deep"].to_string();
        assert!(deep.contains("[[[") && deep.contains("\\\"leaf\\\""), "the deepest part is kept as text: {deep}");
        for text in [&d.action, d.justification.as_ref().expect("kept"), d.details["name"].as_str().expect("text")] {
            assert!(text.contains("[100000 characters, sha256 "), "{text}");
        }
    }

    #[test]
    fn many_members_are_cut_with_a_note() {
        let members: Map<String, Value> = (0..1500).map(|i| (format!("k{i:04}"), json!(i))).collect();
        let bounded = bound_json(Value::Object(members), 0);
        let obj = bounded.as_object().expect("object");
        assert_eq!(obj.len(), MAX_ITEMS + 1);
        assert_eq!(obj["…"], json!("and 500 more members"));
    }

    #[test]
    fn one_member_over_reads_in_the_singular() {
        let members: Map<String, Value> = (0..=MAX_ITEMS).map(|i| (format!("k{i:04}"), json!(i))).collect();
        let bounded = bound_json(Value::Object(members), 0);
        assert_eq!(bounded["…"], json!("and 1 more member"));
    }
}
