//! Messages people read quote at most a short prefix of what was sent: a long quoted value is
//! shortened to its start and length, and a message is never longer than [`MAX_MESSAGE_CHARS`].

/// A quoted value longer than this (in characters) is shortened.
pub const MAX_QUOTED_CHARS: usize = 64;
/// How much of a shortened quoted value is kept.
pub const QUOTED_PREFIX_CHARS: usize = 32;
/// The longest message, in characters.
pub const MAX_MESSAGE_CHARS: usize = 1000;

const QUOTES: [char; 3] = ['\'', '"', '`'];

/// `n` with the noun agreeing: `count(1, "day", "days")` is "1 day", `count(2, ...)` "2 days".
pub fn count(n: impl Count, one: &str, many: &str) -> String {
    let n = n.value();
    format!("{n} {}", if n == 1 { one } else { many })
}

/// A whole number that [`count`] takes (`usize` included, unlike `Into<i128>`).
pub trait Count {
    /// The number, widened.
    fn value(self) -> i128;
}

macro_rules! count_impl {
    ($($t:ty),*) => {$(
        impl Count for $t {
            fn value(self) -> i128 {
                self as i128
            }
        }
    )*};
}
count_impl!(u8, u16, u32, u64, usize, i8, i16, i32, i64);

impl<T: Count + Copy> Count for &T {
    fn value(self) -> i128 {
        (*self).value()
    }
}

/// `message` with every long quoted value shortened, and the whole cut to [`MAX_MESSAGE_CHARS`].
///
/// A quote opens at the start or after a space, `(`, `:` or `=`, and closes before the end, a
/// space or punctuation, so apostrophes in words ("can't") are not quotes.
pub fn bounded(message: String) -> String {
    if message.len() <= MAX_QUOTED_CHARS {
        return message;
    }
    let chars: Vec<char> = message.chars().collect();
    let mut out = String::with_capacity(message.len().min(MAX_MESSAGE_CHARS * 4));
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let opens = QUOTES.contains(&c) && (i == 0 || matches!(chars[i - 1], ' ' | '(' | ':' | '='));
        if let Some(close) = opens.then(|| closing(&chars, i + 1, c)).flatten() {
            let inner = close - i - 1;
            out.push(c);
            if inner > MAX_QUOTED_CHARS {
                out.extend(&chars[i + 1..i + 1 + QUOTED_PREFIX_CHARS]);
                out.push('…');
                out.push(c);
                out.push_str(&format!(" ({inner} characters)"));
            } else {
                out.extend(&chars[i + 1..=close]);
            }
            i = close + 1;
        } else {
            out.push(c);
            i += 1;
        }
    }
    let total = out.chars().count();
    if total > MAX_MESSAGE_CHARS {
        let mut cut: String = out.chars().take(MAX_MESSAGE_CHARS - 1).collect();
        cut.push('…');
        return cut;
    }
    out
}

/// The index of the quote `q` that closes a quotation opened before `from`.
fn closing(chars: &[char], from: usize, q: char) -> Option<usize> {
    (from..chars.len()).find(|&j| {
        chars[j] == q
            && chars
                .get(j + 1)
                .is_none_or(|n| n.is_whitespace() || matches!(n, ',' | '.' | ';' | ':' | ')' | '!' | '?'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_agree_with_their_noun() {
        assert_eq!(count(1u32, "code", "codes"), "1 code");
        assert_eq!(count(0u32, "code", "codes"), "0 codes");
        assert_eq!(count(15i64, "minute", "minutes"), "15 minutes");
        assert_eq!(count(1usize, "activation", "activations"), "1 activation");
        let by_ref: Vec<String> = [1usize, 3].iter().map(|n| count(n, "item", "items")).collect();
        assert_eq!(by_ref, ["1 item", "3 items"]);
    }

    #[test]
    fn short_messages_are_untouched() {
        for m in [
            "name 'alice' must be 1-128 letters, digits or . _ - @ +",
            "you can't approve your own request; another approver must decide it",
            "unknown field `nmae`, expected one of `name`, `kind`",
        ] {
            assert_eq!(bounded(m.to_owned()), m);
        }
    }

    #[test]
    fn a_long_quoted_value_keeps_its_start_and_length() {
        let name = "a".repeat(60_000);
        let m = bounded(format!("name '{name}' must be 1-128 letters, digits or . _ - @ +"));
        assert_eq!(
            m,
            format!("name '{}…' (60000 characters) must be 1-128 letters, digits or . _ - @ +", "a".repeat(32))
        );
        let m = bounded(format!("invalid type: string \"{name}\", expected a map"));
        assert_eq!(m, format!("invalid type: string \"{}…\" (60000 characters), expected a map", "a".repeat(32)));
    }

    #[test]
    fn quotes_inside_the_value_do_not_end_it_early() {
        let tricky = "x'y".repeat(10_000);
        let m = bounded(format!("principal '{tricky}' does not exist"));
        assert!(m.len() < 200 && m.ends_with("(30000 characters) does not exist"), "{m}");
    }

    #[test]
    fn no_message_is_longer_than_the_limit() {
        let spaced = "a' b' ".repeat(20_000);
        let m = bounded(format!("principal '{spaced}' does not exist"));
        assert_eq!(m.chars().count(), MAX_MESSAGE_CHARS);
        assert!(m.ends_with('…'));
        let unquoted = bounded("z".repeat(5000));
        assert_eq!(unquoted.chars().count(), MAX_MESSAGE_CHARS);
    }

    #[test]
    fn multi_byte_values_are_cut_on_characters() {
        let m = bounded(format!("role '{}' does not exist", "é".repeat(100)));
        assert_eq!(m, format!("role '{}…' (100 characters) does not exist", "é".repeat(32)));
    }
}
