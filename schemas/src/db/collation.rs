//! Identity of message ids as the `message_id` column's collation sees it.
//!
//! The app tables use `utf8mb4_unicode_ci`: comparisons ignore letter case,
//! accents and trailing spaces (a PAD SPACE collation), so MySQL's UNIQUE key treats
//! `ABC-1`, `abc-1` and `abc-1 ` as one id. msgmig plans with the same identity on every
//! backend, so the second claimant of such an id is a reported conflict on MariaDB and SQLite
//! alike, never a duplicate-key abort and never two rows.

use unicode_normalization::{char::is_combining_mark, UnicodeNormalization};

/// The key under which `id` is one message id: trailing spaces dropped, compatibility
/// decomposition with combining marks (accents) removed, lower-cased, `ß` as `ss`. This is the
/// equality of `utf8mb4_unicode_ci` (UCA 4.0.0 primary strength) for the characters message ids
/// are made of; it may merge a few more exotic characters than the server would, never fewer
/// of those that occur in ids (MariaDB's collation reference, "utf8mb4_unicode_ci").
pub fn message_key(id: &str) -> String {
    id.trim_end_matches(' ')
        .nfkd()
        .filter(|c| !is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .collect::<String>()
        .replace('ß', "ss")
}

#[cfg(test)]
mod tests {
    use super::message_key;

    #[test]
    fn ids_the_collation_treats_as_equal_share_a_key() {
        let k = message_key("abc-1");
        for same in ["ABC-1", "abc-1 ", "Abc-1   ", "\u{e1}bc-1", "a\u{301}bc-1"] {
            assert_eq!(message_key(same), k, "{same:?}");
        }
        for other in ["abc-2", " abc-1", "abc_1", "abc-1\t"] {
            assert_ne!(message_key(other), k, "{other:?}");
        }
        assert_eq!(message_key("Stra\u{df}e"), message_key("STRASSE"));
    }
}
