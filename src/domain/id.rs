//! Ids made by the server: a short prefix naming what they identify and a
//! ULID, so ids sort by creation time and say what they are (`key_…`,
//! `usr_…`, `ver_…`). One macro, so every such id behaves the same.

/// Declares `$name`, an id of `$prefix` + `_` + ULID: generated here, read
/// back from the store or a server as it is (`from_trusted`).
macro_rules! ulid_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(
            Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            #[must_use]
            pub fn generate() -> Self {
                Self(format!(concat!($prefix, "_{}"), ulid::Ulid::new()))
            }

            #[must_use]
            pub fn as_str(&self) -> &str {
                &self.0
            }

            #[must_use]
            pub fn from_trusted(value: String) -> Self {
                Self(value)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

pub(crate) use ulid_id;

#[cfg(test)]
mod tests {
    use crate::domain::{KeyId, UserId, VerifierId};

    #[test]
    fn ids_name_what_they_identify() {
        let key = KeyId::generate();
        assert!(key.as_str().starts_with("key_"), "{key}");
        assert_ne!(key, KeyId::generate());
        assert!(UserId::generate().as_str().starts_with("usr_"));
        assert!(VerifierId::generate().to_string().starts_with("ver_"));
        assert_eq!(KeyId::from_trusted("key_x".into()).as_str(), "key_x");
    }
}
