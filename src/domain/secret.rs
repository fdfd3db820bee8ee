//! Secrets: generation from the OS CSPRNG, the `<prefix>_<random><checksum>`
//! format, the keyed hash the store looks keys up by, and the AES-256-GCM
//! envelope used only where a tenant allows secret retrieval.
//!
//! A plaintext secret lives in a [`Secret`], which zeroizes its buffer on drop
//! and has no `Debug`/`Display` that could leak it into a log.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use rand::TryRngCore as _;
use rand::distr::{Alphanumeric, Distribution};
use sha2::Sha256;
use zeroize::Zeroizing;

use super::tenant::KeyPrefix;

impl std::fmt::Debug for Secret {
    /// Shows only the safe `start`, so a stray `{:?}` cannot leak a secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secret({}…)", self.start())
    }
}

/// Random part: 32 base62 characters, about 190 bits of entropy.
pub const RANDOM_LEN: usize = 32;
/// Checksum part: CRC32 of everything before it, as 6 base62 characters.
pub const CHECKSUM_LEN: usize = 6;
/// Random characters shown in `start` after the prefix: enough to tell keys
/// apart, far too few to help guess one.
const START_RANDOM_CHARS: usize = 4;

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Why a string is not a keydesk secret. Verification answers `NOT_FOUND`
/// for all of these without touching the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MalformedSecret {
    #[error("not of the form <prefix>_<random><checksum>")]
    Shape,
    #[error("checksum does not match")]
    Checksum,
}

/// A plaintext API-key secret or management token. Zeroized on drop.
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// A fresh secret with `prefix`, 32 characters from the OS CSPRNG and the checksum.
    #[must_use]
    pub fn generate(prefix: &KeyPrefix) -> Self {
        let mut rng = rand::rngs::OsRng.unwrap_err();
        let mut text = Zeroizing::new(String::with_capacity(
            prefix.as_str().len() + 1 + RANDOM_LEN + CHECKSUM_LEN,
        ));
        text.push_str(prefix.as_str());
        text.push('_');
        text.extend(
            Alphanumeric
                .sample_iter(&mut rng)
                .take(RANDOM_LEN)
                .map(char::from),
        );
        let checksum = checksum(&text);
        text.push_str(&checksum);
        Self(text)
    }

    /// Checks shape and checksum; costs no IO, so garbage is cheap to reject.
    pub fn parse(candidate: &str) -> Result<Self, MalformedSecret> {
        let (prefix, rest) = candidate.rsplit_once('_').ok_or(MalformedSecret::Shape)?;
        if KeyPrefix::parse(prefix).is_err()
            || rest.len() != RANDOM_LEN + CHECKSUM_LEN
            || !rest.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return Err(MalformedSecret::Shape);
        }
        let body_len = candidate.len() - CHECKSUM_LEN;
        if checksum(&candidate[..body_len]) != candidate[body_len..] {
            return Err(MalformedSecret::Checksum);
        }
        Ok(Self(Zeroizing::new(candidate.to_owned())))
    }

    /// The plaintext, for the one response that shows it.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The prefix and the first few random characters: safe to display.
    #[must_use]
    pub fn start(&self) -> String {
        let underscore = self.0.rfind('_').unwrap_or(0);
        self.0[..underscore + 1 + START_RANDOM_CHARS].to_owned()
    }
}

/// CRC32 of `body` as exactly six base62 digits (62^6 > 2^32).
fn checksum(body: &str) -> String {
    let mut value = u64::from(crc32fast::hash(body.as_bytes()));
    let mut digits = [b'0'; CHECKSUM_LEN];
    for digit in digits.iter_mut().rev() {
        *digit = BASE62[(value % 62) as usize];
        value /= 62;
    }
    digits.iter().map(|&b| char::from(b)).collect()
}

/// Key material derived from the pepper, which lives outside the database.
/// Separate derived keys for secret hashing, token hashing and encryption,
/// so no two uses share a key.
pub struct Keyring {
    secret_mac: Zeroizing<[u8; 32]>,
    token_mac: Zeroizing<[u8; 32]>,
    cipher: Aes256Gcm,
    fingerprint: String,
}

/// Error from decrypting a stored secret: wrong master key or tampering.
#[derive(Debug, thiserror::Error)]
#[error("stored secret could not be decrypted")]
pub struct DecryptError;

impl Keyring {
    /// Minimum pepper length in bytes.
    pub const MIN_PEPPER_LEN: usize = 32;

    /// Derives every key from `pepper` with HKDF-SHA-256.
    pub fn from_pepper(pepper: &[u8]) -> Result<Self, String> {
        if pepper.len() < Self::MIN_PEPPER_LEN {
            return Err(format!(
                "the pepper must be at least {} bytes",
                Self::MIN_PEPPER_LEN
            ));
        }
        let hkdf = hkdf::Hkdf::<Sha256>::new(Some(b"keydesk"), pepper);
        let derive = |info: &[u8]| {
            let mut out = Zeroizing::new([0u8; 32]);
            // 32 bytes is far below HKDF-SHA-256's 255*32-byte limit.
            hkdf.expand(info, out.as_mut())
                .map_err(|_| "key derivation failed".to_owned())?;
            Ok::<_, String>(out)
        };
        let encryption = derive(b"secret encryption v1")?;
        let cipher = Aes256Gcm::new_from_slice(encryption.as_ref())
            .map_err(|_| "invalid encryption key length".to_owned())?;
        let fingerprint = mac_hex(
            derive(b"pepper fingerprint v1")?.as_ref(),
            "keydesk pepper fingerprint",
        );
        Ok(Self {
            secret_mac: derive(b"secret digest v1")?,
            token_mac: derive(b"token digest v1")?,
            cipher,
            fingerprint,
        })
    }

    /// Names the pepper without revealing it: HMAC-SHA-256 of a fixed label
    /// under a key of its own derived from the pepper, hex. The database
    /// keeps it, so a server started with another pepper (or a lost one
    /// replaced) refuses to start instead of failing every verification.
    #[must_use]
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// HMAC-SHA-256 of an API-key secret, hex: what the store keeps and looks up by.
    #[must_use]
    pub fn secret_digest(&self, secret: &Secret) -> String {
        mac_hex(self.secret_mac.as_ref(), secret.expose())
    }

    /// HMAC-SHA-256 of a management token, hex.
    #[must_use]
    pub fn token_digest(&self, token: &str) -> String {
        mac_hex(self.token_mac.as_ref(), token)
    }

    /// Encrypts `secret` bound to `key_id` (as associated data), so a
    /// ciphertext moved to another key's row does not decrypt.
    pub fn encrypt(&self, key_id: &str, secret: &Secret) -> Result<String, DecryptError> {
        let mut nonce = [0u8; 12];
        rand::rngs::OsRng
            .unwrap_err()
            .try_fill_bytes(&mut nonce)
            .map_err(|_| DecryptError)?;
        let sealed = self
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: secret.expose().as_bytes(),
                    aad: key_id.as_bytes(),
                },
            )
            .map_err(|_| DecryptError)?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(BASE64.encode(out))
    }

    /// Reverses [`Keyring::encrypt`].
    pub fn decrypt(&self, key_id: &str, stored: &str) -> Result<Secret, DecryptError> {
        let bytes = BASE64.decode(stored).map_err(|_| DecryptError)?;
        if bytes.len() < 12 {
            return Err(DecryptError);
        }
        let (nonce, sealed) = bytes.split_at(12);
        let plain = Zeroizing::new(
            self.cipher
                .decrypt(
                    Nonce::from_slice(nonce),
                    Payload {
                        msg: sealed,
                        aad: key_id.as_bytes(),
                    },
                )
                .map_err(|_| DecryptError)?,
        );
        let text = std::str::from_utf8(&plain).map_err(|_| DecryptError)?;
        Ok(Secret(Zeroizing::new(text.to_owned())))
    }
}

fn mac_hex(key: &[u8], message: &str) -> String {
    // HMAC accepts keys of any length; this cannot fail for a 32-byte key.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(message.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// A management token: `kdm_` + 32 random base62 characters + checksum.
#[must_use]
pub fn generate_token() -> Secret {
    Secret::generate(&KeyPrefix::management_token())
}

/// A verifier token: `kdv_` + 32 random base62 characters + checksum.
#[must_use]
pub fn generate_verifier_token() -> Secret {
    Secret::generate(&KeyPrefix::verifier_token())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prefix(p: &str) -> KeyPrefix {
        KeyPrefix::parse(p).unwrap()
    }

    #[test]
    fn generated_secret_has_prefix_random_part_and_valid_checksum() {
        let secret = Secret::generate(&prefix("kd"));
        let text = secret.expose();
        assert!(text.starts_with("kd_"));
        assert_eq!(text.len(), 3 + RANDOM_LEN + CHECKSUM_LEN);
        assert!(text[3..].bytes().all(|b| b.is_ascii_alphanumeric()));
        assert!(Secret::parse(text).is_ok());
    }

    #[test]
    fn two_secrets_differ() {
        let a = Secret::generate(&prefix("kd"));
        let b = Secret::generate(&prefix("kd"));
        assert_ne!(a.expose(), b.expose());
    }

    #[test]
    fn a_changed_character_fails_the_checksum() {
        let secret = Secret::generate(&prefix("acme"));
        let mut bytes = secret.expose().as_bytes().to_vec();
        let i = 10;
        bytes[i] = if bytes[i] == b'a' { b'b' } else { b'a' };
        let tampered = String::from_utf8(bytes).unwrap();
        assert_eq!(
            Secret::parse(&tampered).err(),
            Some(MalformedSecret::Checksum)
        );
    }

    #[test]
    fn malformed_strings_are_rejected_by_shape() {
        for bad in [
            "",
            "kd",
            "kd_",
            "kd_short",
            "nounderscore0123456789",
            "KD_0123456789012345678901234567890123456789",
        ] {
            assert_eq!(
                Secret::parse(bad).err(),
                Some(MalformedSecret::Shape),
                "{bad}"
            );
        }
        let too_long = format!("{}x", Secret::generate(&prefix("kd")).expose());
        assert!(Secret::parse(&too_long).is_err());
    }

    #[test]
    fn start_shows_prefix_and_four_characters() {
        let secret = Secret::generate(&prefix("kd"));
        assert_eq!(secret.start().len(), 3 + 4);
        assert!(secret.expose().starts_with(&secret.start()));
    }

    #[test]
    fn digest_is_keyed_by_the_pepper() {
        let secret = Secret::generate(&prefix("kd"));
        let a = Keyring::from_pepper(&[1u8; 32]).unwrap();
        let b = Keyring::from_pepper(&[2u8; 32]).unwrap();
        assert_eq!(a.secret_digest(&secret), a.secret_digest(&secret));
        assert_ne!(a.secret_digest(&secret), b.secret_digest(&secret));
        assert!(!a.secret_digest(&secret).contains(secret.expose()));
    }

    #[test]
    fn debug_output_redacts_the_secret() {
        let secret = Secret::generate(&prefix("kd"));
        let shown = format!("{secret:?}");
        assert!(!shown.contains(secret.expose()));
        assert!(shown.contains(&secret.start()));
    }

    #[test]
    fn the_fingerprint_names_the_pepper_without_showing_it() {
        let pepper = [3u8; 32];
        let ring = Keyring::from_pepper(&pepper).unwrap();
        assert_eq!(
            ring.fingerprint(),
            Keyring::from_pepper(&pepper).unwrap().fingerprint()
        );
        assert_ne!(
            ring.fingerprint(),
            Keyring::from_pepper(&[4u8; 32]).unwrap().fingerprint()
        );
        assert!(!ring.fingerprint().contains(&hex::encode(pepper)));
        let secret = Secret::generate(&prefix("kd"));
        assert_ne!(ring.fingerprint(), ring.secret_digest(&secret));
    }

    #[test]
    fn short_pepper_is_refused() {
        assert!(Keyring::from_pepper(&[0u8; 8]).is_err());
    }

    #[test]
    fn encryption_round_trips_and_is_bound_to_the_key_id() {
        let ring = Keyring::from_pepper(&[7u8; 32]).unwrap();
        let secret = Secret::generate(&prefix("kd"));
        let sealed = ring.encrypt("key_a", &secret).unwrap();
        assert!(!sealed.contains(secret.expose()));
        assert_eq!(
            ring.decrypt("key_a", &sealed).unwrap().expose(),
            secret.expose()
        );
        assert!(ring.decrypt("key_b", &sealed).is_err());
        let other = Keyring::from_pepper(&[8u8; 32]).unwrap();
        assert!(other.decrypt("key_a", &sealed).is_err());
    }
}
