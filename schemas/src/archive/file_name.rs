use super::ContentType;

/// `true` for `D_<digits>` or `G_<digits>` (upper case as the locator writes it),
/// at most 50 characters (the `deposition_data_set_id` column).
pub fn is_deposition_id(s: &str) -> bool {
    let Some(digits) = s.strip_prefix("D_").or_else(|| s.strip_prefix("G_")) else {
        return false;
    };
    !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && s.len() <= crate::db::limits::DEPOSITION_ID_CHARS
}

/// Why `s` is not a deposition folder name ([`is_deposition_id`]), in words for a curator;
/// `None` when it is one.
pub fn why_not_a_deposition_id(s: &str) -> Option<String> {
    if is_deposition_id(s) {
        return None;
    }
    let digits = s.strip_prefix("D_").or_else(|| s.strip_prefix("G_"));
    Some(match digits {
        Some(d) if !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()) => format!(
            "a deposition id of {} characters, longer than the {}-character deposition_data_set_id column",
            s.chars().count(),
            crate::db::limits::DEPOSITION_ID_CHARS
        ),
        _ => "not D_<digits> or G_<digits>".to_owned(),
    })
}

/// A parsed message file name:
/// `^([DG]_[0-9]+)_(messages-to-depositor|messages-from-depositor|notes-from-annotator)_P([0-9]+)\.cif\.V([0-9]+)$`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageFileName {
    /// `D_…` or `G_…` as written in the name.
    pub deposition_id: String,
    /// Content type from the acronym.
    pub content_type: ContentType,
    /// Partition number (always 1 for message files).
    pub partition: u32,
    /// Version number (`V10` > `V9`: numeric).
    pub version: u32,
    /// `true` when the version has leading zeros (`V02`): read, but worth a warning (§1.4).
    pub zero_padded: bool,
}

impl MessageFileName {
    /// Parses a file name; `None` for anything that is not a message file (models, `.PREV0`
    /// backups, `.lock` files, parser temp files, other content types).
    pub fn parse(name: &str) -> Option<Self> {
        let (base, version) = name.rsplit_once(".cif.V")?;
        if version.is_empty() || version.len() > 9 || !version.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let (rest, partition) = base.rsplit_once("_P")?;
        if partition.is_empty()
            || partition.len() > 9
            || !partition.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let (id, acronym) = ContentType::ALL.iter().find_map(|ct| {
            let id = rest.strip_suffix(ct.as_str())?.strip_suffix('_')?;
            Some((id, *ct))
        })?;
        if !is_deposition_id(id) {
            return None;
        }
        Some(MessageFileName {
            deposition_id: id.to_owned(),
            content_type: acronym,
            partition: partition.parse().ok()?,
            version: version.parse().ok()?,
            zero_padded: version.len() > 1 && version.starts_with('0'),
        })
    }

    /// The canonical file name for a deposition, content type and version (`P1`, no padding).
    pub fn canonical(deposition_id: &str, content_type: ContentType, version: u32) -> String {
        format!("{deposition_id}_{content_type}_P1.cif.V{version}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_message_file_names() {
        let f = MessageFileName::parse("D_0000265933_messages-to-depositor_P1.cif.V3").unwrap();
        assert_eq!(f.deposition_id, "D_0000265933");
        assert_eq!(f.content_type, ContentType::MessagesToDepositor);
        assert_eq!((f.partition, f.version, f.zero_padded), (1, 3, false));
        let g = MessageFileName::parse("G_1000001_notes-from-annotator_P1.cif.V12").unwrap();
        assert_eq!(
            (g.content_type, g.version),
            (ContentType::NotesFromAnnotator, 12)
        );
        assert!(
            MessageFileName::parse("D_1_messages-from-depositor_P1.cif.V02")
                .unwrap()
                .zero_padded
        );
    }

    #[test]
    fn rejects_decoys_of_domain_1_5() {
        for name in [
            "D_1_messages-to-depositor_P1.cif.V1.PREV0",
            "D_1_messages-to-depositor_P1.cif.V2.bak",
            "D_1_messages-to-depositor_P1.cif.V3.gz",
            "D_1_messages-to-depositor_P1.cif.V1.lock",
            "D_1_messages-to-depositor_P1.cif",
            "D_1_messages-to-depositor_P1.cif.V",
            "D_1_messages-to-depositor_P1.cif.Vx",
            "D_1_messages-to-depositor_P1_cif-parser-ascii_P1_2.cif",
            "D_1_model_P1.cif.V1",
            "D_1_correspondence-to-depositor_P1.txt.V1",
            "D_1_messages-to-depositor-annotate_P1.cif.V1",
            "X_1_messages-to-depositor_P1.cif.V1",
            "D__messages-to-depositor_P1.cif.V1",
            "D_1_messages-to-depositor_Px.cif.V1",
        ] {
            assert_eq!(
                MessageFileName::parse(name),
                None,
                "{name} is not a message file"
            );
        }
    }

    #[test]
    fn deposition_ids() {
        assert!(is_deposition_id("D_000219") && is_deposition_id("G_1000001"));
        for bad in ["D_", "X_123456", "INVALID", "123456", "", "d_1", "D_12a"] {
            assert!(!is_deposition_id(bad), "{bad}");
        }
    }
}
