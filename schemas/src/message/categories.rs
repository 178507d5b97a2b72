use crate::cif::Value;

/// Declares a category row: one `Value` per attribute, in the attribute order the legacy files use.
macro_rules! category_row {
    ($(#[$meta:meta])* $name:ident = $category:literal { $($(#[$fmeta:meta])* $field:ident),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub struct $name {
            $($(#[$fmeta])* pub $field: Value,)+
        }

        impl $name {
            /// mmCIF category name (without the leading `_`).
            pub const CATEGORY: &'static str = $category;
            /// Attribute names in legacy file order.
            pub const ATTRIBUTES: &'static [&'static str] = &[$(stringify!($field)),+];

            /// Builds a row from values in [`Self::ATTRIBUTES`] order; absent values are `?`
            /// (the legacy reader filled missing attributes with `?`).
            pub fn from_values(values: Vec<Option<Value>>) -> Self {
                let mut it = values.into_iter();
                $name { $($field: it.next().flatten().unwrap_or(Value::Unknown),)+ }
            }

            /// The values in [`Self::ATTRIBUTES`] order.
            pub fn into_values(self) -> Vec<Value> {
                vec![$(self.$field),+]
            }
        }
    };
}

category_row! {
    /// `_pdbx_deposition_message_info`: one message.
    InfoRow = "pdbx_deposition_message_info" {
        /// Row order in the file; the DB assigns its own (AUTO_INCREMENT).
        ordinal_id,
        /// UUID, the key of everything.
        message_id,
        /// `D_…` as written inside the file (may differ from the folder).
        deposition_data_set_id,
        /// `YYYY-MM-DD HH:MM:SS` GMT, or one of the other formats of docs/domain.md
        timestamp,
        sender,
        context_type,
        context_value,
        /// Thread root; equals `message_id` for a new thread.
        parent_message_id,
        message_subject,
        message_text,
        message_type,
        /// `Y` sent, `N` draft.
        send_status,
    }
}

category_row! {
    /// `_pdbx_deposition_message_file_reference`: one attachment of a message.
    FileRefRow = "pdbx_deposition_message_file_reference" {
        ordinal_id,
        message_id,
        deposition_data_set_id,
        /// The attachment's OneDep content type (not a message content type).
        content_type,
        content_format,
        partition_number,
        version_id,
        storage_type,
        upload_file_name,
    }
}

category_row! {
    /// `_pdbx_deposition_message_status`: read/action/release flags of any message (§4.3).
    StatusRow = "pdbx_deposition_message_status" {
        message_id,
        deposition_data_set_id,
        read_status,
        action_reqd,
        for_release,
    }
}

category_row! {
    /// `_pdbx_deposition_message_origcomm_reference`: the original e-mail of an archived note
    /// (§4.4; lost by the old tools).
    OrigcommRow = "pdbx_deposition_message_origcomm_reference" {
        ordinal_id,
        message_id,
        deposition_data_set_id,
        orig_message_id,
        orig_deposition_data_set_id,
        orig_timestamp,
        orig_sender,
        orig_recipient,
        orig_message_subject,
        orig_attachments,
    }
}
