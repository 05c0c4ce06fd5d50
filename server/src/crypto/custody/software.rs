//! The software custody: today's keys, sealed by the vault, operations in
//! process with AWS-LC (constant-time RSA; never the RustCrypto `rsa`
//! crate, RUSTSEC-2023-0071).

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der, PublicKeyX509Der};
use aws_lc_rs::rsa::{
    KeySize, OaepPrivateDecryptingKey, Pkcs1PrivateDecryptingKey, PrivateDecryptingKey,
    OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256,
};
use paysecure_core::pin_block4::Format4Key;
use zeroize::Zeroizing;

use super::{CustodyKind, KeyCustody, NewRsaKey, PinKey, RsaPadding, RsaPrivateKey};
use crate::crypto::keys::Purpose;
use crate::crypto::vault::{Binding, Vault};
use crate::crypto::{Error, Result};

fn rsa_binding(key_id: &str) -> Binding<'_> {
    Binding {
        tenant: "-",
        subject: key_id,
        field: "rsa_private_key",
    }
}

const PIN_KEY_BINDING: Binding<'static> = Binding {
    tenant: "-",
    subject: "pin-key",
    field: "aes_pin_key",
};

/// Keys sealed by the vault; every operation in this process.
#[derive(Debug, Default)]
pub struct SoftwareCustody;

struct SoftwareRsaKey {
    oaep: OaepPrivateDecryptingKey,
    pkcs1: Pkcs1PrivateDecryptingKey,
}

impl RsaPrivateKey for SoftwareRsaKey {
    fn size_bytes(&self) -> usize {
        self.oaep.key_size_bytes()
    }

    fn decrypt(&self, padding: RsaPadding, ciphertext: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        let mut out = Zeroizing::new(vec![0u8; self.oaep.key_size_bytes()]);
        let len = match padding {
            RsaPadding::OaepSha1 => self
                .oaep
                .decrypt(&OAEP_SHA1_MGF1SHA1, ciphertext, &mut out, None)
                .ok()?
                .len(),
            RsaPadding::OaepSha256 => self
                .oaep
                .decrypt(&OAEP_SHA256_MGF1SHA256, ciphertext, &mut out, None)
                .ok()?
                .len(),
            RsaPadding::Pkcs1v15 => self.pkcs1.decrypt(ciphertext, &mut out).ok()?.len(),
        };
        out.truncate(len);
        Some(out)
    }
}

impl KeyCustody for SoftwareCustody {
    fn kind(&self) -> CustodyKind {
        CustodyKind::Software
    }

    fn generate_rsa(&self, vault: &Vault, key_id: &str, _purpose: Purpose) -> Result<NewRsaKey> {
        let private = PrivateDecryptingKey::generate(KeySize::Rsa2048)
            .map_err(|_| Error::Internal("RSA key generation failed"))?;
        let pkcs8 = AsDer::<Pkcs8V1Der>::as_der(&private)
            .map_err(|_| Error::Internal("RSA key export failed"))?;
        let spki = AsDer::<PublicKeyX509Der>::as_der(&private.public_key())
            .map_err(|_| Error::Internal("RSA key export failed"))?;
        Ok(NewRsaKey {
            public_spki: spki.as_ref().to_vec(),
            private_stored: vault.seal(rsa_binding(key_id), pkcs8.as_ref())?,
        })
    }

    fn load_rsa(
        &self,
        vault: &Vault,
        key_id: &str,
        stored: &[u8],
    ) -> Result<Box<dyn RsaPrivateKey>> {
        if stored.starts_with(super::pkcs11::STORED_PREFIX) {
            return Err(Error::Internal(
                "this RSA key is held in a PKCS#11 token: start the server with --key-custody pkcs11",
            ));
        }
        let der = vault.open(rsa_binding(key_id), stored)?;
        let load = || {
            PrivateDecryptingKey::from_pkcs8(&der)
                .map_err(|_| Error::Internal("stored RSA key is invalid"))
        };
        Ok(Box::new(SoftwareRsaKey {
            oaep: OaepPrivateDecryptingKey::new(load()?)
                .map_err(|_| Error::Internal("RSA key unusable for OAEP"))?,
            pkcs1: Pkcs1PrivateDecryptingKey::new(load()?)
                .map_err(|_| Error::Internal("RSA key unusable"))?,
        }))
    }

    fn destroy_rsa(&self, _key_id: &str) -> Result<()> {
        Ok(())
    }

    fn generate_pin_key(&self, vault: &Vault) -> Result<Vec<u8>> {
        let key = Zeroizing::new(crate::util::ids::random_bytes::<32>()?);
        vault.seal(PIN_KEY_BINDING, &key[..])
    }

    fn load_pin_key(&self, vault: &Vault, stored: &[u8]) -> Result<PinKey> {
        let key = vault.open(PIN_KEY_BINDING, stored)?;
        Ok(Box::new(Format4Key::new(&key).map_err(|_| {
            Error::Internal("stored PIN key is invalid")
        })?))
    }

    fn discard_pin_key(&self, _stored: &[u8]) -> Result<()> {
        Ok(())
    }

    fn store_cvk(
        &self,
        vault: &Vault,
        binding: Binding<'_>,
        cvk: &crate::crypto::cvv::CvkPair,
    ) -> Result<Vec<u8>> {
        vault.seal(binding, cvk.expose_bytes())
    }
}

/// The PKCS#8 of an RSA private key sealed by the vault (for its import
/// into a token).
pub fn open_rsa_pkcs8(vault: &Vault, key_id: &str, stored: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    vault.open(rsa_binding(key_id), stored)
}

/// The 32 bytes of a PIN key sealed by the vault (for its import into a
/// token).
pub fn open_pin_key(vault: &Vault, stored: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    vault.open(PIN_KEY_BINDING, stored)
}
