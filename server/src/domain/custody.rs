//! The key custody's part of the domain: the PIN key every node agrees on
//! (recorded once in `custody_keys`), PINs at rest as ISO 9564 format-4
//! blocks under it, and the re-encryption of the format-2 blocks stored
//! before migration 0011.
//!
//! **PINs at rest.** A PIN is stored as a format-4 block (AES, random fill,
//! bound to the card's PAN) enciphered under the custody's PIN key, then
//! sealed by the vault (bound to tenant, card and field). The mode is
//! reversible on purpose: Get PIN must return the PIN to the cardholder
//! (translated back to a format-2 block under the session key), which a
//! one-way verifier (a Visa PVV, an offset) cannot do. With the PKCS#11
//! custody the PIN key never leaves the token; the clear PIN exists in
//! this process only while a block is translated (format 2 from the client
//! → format 4, or back), in [`Pin`] (wiped on drop).

use paysecure_core::pin_block::{self, PinBlockFormat};
use paysecure_core::pin_block4;
use paysecure_core::Pin;

use crate::crypto::custody::pkcs11::{Pkcs11Custody, STORED_PREFIX};
use crate::crypto::custody::{open_sealed_cvk, software, CustodyKind, Kek, KeyCustody, PinKey};
use crate::crypto::keys::Purpose;
use crate::crypto::vault::{Binding, Vault};
use crate::domain::error::{Error, Result};
use crate::domain::paysecure::{cvk_binding, pan_binding};
use crate::domain::service::Service;
use crate::storage::{CardRow, Storage, StorageError};
use crate::util::time::now;

/// The `custody_keys` name of the PIN key.
pub const PIN_KEY_NAME: &str = "pin-key";
/// The stored PIN format written since migration 0011.
pub const PIN_FORMAT_4: i64 = 4;

/// The vault binding of a sealed format-4 PIN block (the format-2 text of
/// older rows was sealed as `pin_block`).
pub(crate) fn pin4_binding<'a>(tenant: &'a str, token: &'a str) -> Binding<'a> {
    Binding {
        tenant,
        subject: token,
        field: "pin_block_iso4",
    }
}

/// The legacy binding: a format-2 block as 16 ASCII characters.
pub(crate) fn pin2_binding<'a>(tenant: &'a str, token: &'a str) -> Binding<'a> {
    Binding {
        tenant,
        subject: token,
        field: "pin_block",
    }
}

/// Loads the PIN key recorded in the database, or makes one and records it
/// (the first node to record wins; a loser discards the key it made).
pub async fn load_or_create_pin_key(
    storage: &Storage,
    vault: &Vault,
    custody: &dyn KeyCustody,
) -> Result<PinKey> {
    let recorded = |kind: String, reference: Vec<u8>| {
        if kind != custody.kind().as_str() {
            return Err(Error::Crypto(
                "the PIN key is held by another key custody than this server's (--key-custody)",
            ));
        }
        Ok(custody.load_pin_key(vault, &reference)?)
    };
    if let Some((kind, reference)) = storage.custody_key(PIN_KEY_NAME).await? {
        return recorded(kind, reference);
    }
    let made = custody.generate_pin_key(vault)?;
    match storage
        .insert_custody_key(PIN_KEY_NAME, custody.kind().as_str(), &made, now())
        .await
    {
        Ok(()) => Ok(custody.load_pin_key(vault, &made)?),
        Err(StorageError::Duplicate) => {
            custody.discard_pin_key(&made)?;
            let (kind, reference) = storage
                .custody_key(PIN_KEY_NAME)
                .await?
                .ok_or(Error::Crypto("the recorded PIN key disappeared"))?;
            recorded(kind, reference)
        }
        Err(e) => Err(e.into()),
    }
}

/// The `custody_keys` name of the token's key-encryption key.
pub const KEK_NAME: &str = "kek";
/// The `custody_keys` name of the vault's master key, wrapped by the KEK.
pub const VAULT_KEY_NAME: &str = "vault-master-key";

/// Loads the key-encryption key recorded in the database, or makes one in
/// the token and records it (the first node to record wins; a loser
/// destroys the key it made).
pub async fn load_or_create_kek(storage: &Storage, custody: &dyn KeyCustody) -> Result<Kek> {
    let recorded = |kind: String, reference: Vec<u8>| {
        if kind != custody.kind().as_str() {
            return Err(Error::Crypto(
                "the key-encryption key is held by another key custody than this server's (--key-custody)",
            ));
        }
        Ok(custody.load_kek(&reference)?)
    };
    if let Some((kind, reference)) = storage.custody_key(KEK_NAME).await? {
        return recorded(kind, reference);
    }
    let made = custody.generate_kek()?;
    match storage
        .insert_custody_key(KEK_NAME, custody.kind().as_str(), &made, now())
        .await
    {
        Ok(()) => Ok(custody.load_kek(&made)?),
        Err(StorageError::Duplicate) => {
            custody.discard_kek(&made)?;
            let (kind, reference) = storage
                .custody_key(KEK_NAME)
                .await?
                .ok_or(Error::Crypto("the recorded key-encryption key disappeared"))?;
            recorded(kind, reference)
        }
        Err(e) => Err(e.into()),
    }
}

/// Where the vault's master key of a token deployment came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VaultKeyOrigin {
    /// Unwrapped from the database (recorded by this or another node).
    Recorded,
    /// The master key given to this start (a software deployment's),
    /// wrapped under the KEK and recorded now.
    Imported,
    /// Made now (no key recorded, none given), wrapped and recorded.
    Created,
}

/// The vault of a deployment whose keys the token holds: its master key is
/// stored only wrapped by the token's KEK (`custody_keys`, row
/// [`VAULT_KEY_NAME`]) and unwrapped here into process memory. With no
/// key recorded, `given` (an existing deployment's master key) is wrapped
/// and recorded, or else a new random one; the first node to record wins
/// and every other node uses its key. A `given` key that differs from the
/// recorded one is refused (it would seal with a key nobody else reads).
pub async fn open_token_vault(
    storage: &Storage,
    custody: &dyn KeyCustody,
    given: Option<&[u8]>,
) -> Result<(Vault, VaultKeyOrigin)> {
    let kek = load_or_create_kek(storage, custody).await?;
    let from_record = |kind: String, wrapped: Vec<u8>| -> Result<Vault> {
        if kind != custody.kind().as_str() {
            return Err(Error::Crypto(
                "the vault key is held by another key custody than this server's (--key-custody)",
            ));
        }
        let master = kek.unwrap(&wrapped)?;
        if let Some(given) = given {
            use subtle::ConstantTimeEq;
            if !bool::from(given.ct_eq(&master[..])) {
                return Err(Error::Crypto(
                    "the master key given to this server is not the vault key recorded (wrapped by the token); remove it from the configuration",
                ));
            }
        }
        Ok(Vault::new(&master)?)
    };
    if let Some((kind, wrapped)) = storage.custody_key(VAULT_KEY_NAME).await? {
        return Ok((from_record(kind, wrapped)?, VaultKeyOrigin::Recorded));
    }
    let (master, origin) = match given {
        Some(k) => (
            zeroize::Zeroizing::new(k.to_vec()),
            VaultKeyOrigin::Imported,
        ),
        None => {
            let fresh = zeroize::Zeroizing::new(
                crate::util::ids::random_bytes::<32>()
                    .map_err(|_| Error::Crypto("no randomness"))?,
            );
            (
                zeroize::Zeroizing::new(fresh.to_vec()),
                VaultKeyOrigin::Created,
            )
        }
    };
    let vault = Vault::new(&master)?;
    let wrapped = kek.wrap(&master)?;
    match storage
        .insert_custody_key(VAULT_KEY_NAME, custody.kind().as_str(), &wrapped, now())
        .await
    {
        Ok(()) => Ok((vault, origin)),
        Err(StorageError::Duplicate) => {
            let (kind, wrapped) = storage
                .custody_key(VAULT_KEY_NAME)
                .await?
                .ok_or(Error::Crypto("the recorded vault key disappeared"))?;
            Ok((from_record(kind, wrapped)?, VaultKeyOrigin::Recorded))
        }
        Err(e) => Err(e.into()),
    }
}

/// What `keys import-to-token` did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// The vault's master key was wrapped under the KEK and recorded now
    /// (else it was already).
    pub vault_key_imported: bool,
    /// RSA key pairs moved into the token now.
    pub rsa_keys: u64,
    /// The PIN key was moved into the token now.
    pub pin_key: bool,
    /// Tenants whose CVK pair moved into the token now.
    pub cvks: u64,
    /// Rows left as they were because they changed while this ran (run
    /// again).
    pub changed_meanwhile: u64,
}

/// Moves a software deployment's keys into the token, each step
/// idempotent and safe to interrupt: the vault's master key (`given`, the
/// deployment's key; needed unless it is already recorded) wrapped under
/// the KEK; every usable RSA private key and the PIN key imported into the
/// token (`C_UnwrapKey`, sensitive, not extractable) under a fixed id, the
/// database row rewritten only if it still holds the sealed key that was
/// read (an object left by an interrupted run is replaced); every tenant's
/// CVK pair put in the token. Until its row is rewritten a key keeps
/// working from its sealed copy, so a crash loses nothing; a second run
/// finds nothing left to do. Stored PINs need no re-encryption: the PIN
/// key is the same key, now in the token.
pub async fn import_to_token(
    storage: &Storage,
    custody: &Pkcs11Custody,
    given: Option<&[u8]>,
) -> Result<ImportReport> {
    let mut report = ImportReport::default();
    if given.is_none() && storage.custody_key(VAULT_KEY_NAME).await?.is_none() {
        return Err(Error::Crypto(
            "the software deployment's master key is needed (PAYSECURE_MASTER_KEY or --master-key-file)",
        ));
    }
    let (vault, origin) = open_token_vault(storage, custody, given).await?;
    report.vault_key_imported = origin == VaultKeyOrigin::Imported;

    for key in storage.all_rsa_keys().await? {
        if key.status == "retired" || key.private_sealed.starts_with(STORED_PREFIX) {
            continue;
        }
        let purpose = Purpose::of(&key.purpose).ok_or(Error::Crypto("unknown key purpose"))?;
        let pkcs8 = software::open_rsa_pkcs8(&vault, &key.key_id, &key.private_sealed)?;
        let stored = custody.import_rsa(&key.key_id, purpose, &pkcs8)?;
        if storage
            .replace_rsa_private(&key.key_id, &key.private_sealed, &stored)
            .await?
        {
            report.rsa_keys += 1;
        } else {
            report.changed_meanwhile += 1;
        }
    }

    if let Some((kind, reference)) = storage.custody_key(PIN_KEY_NAME).await? {
        if kind == CustodyKind::Software.as_str() {
            let key = software::open_pin_key(&vault, &reference)?;
            // A fixed id per deployment: a rerun replaces what an
            // interrupted run left.
            let mac = vault.keyed_mac(&["custody-import", PIN_KEY_NAME]);
            let id = format!(
                "pin-{}",
                crate::util::codec::hex_lower(mac.get(..8).unwrap_or_default())
            );
            let stored = custody.import_pin_key(&id, &key)?;
            if storage
                .replace_custody_key(
                    PIN_KEY_NAME,
                    &kind,
                    &reference,
                    CustodyKind::Pkcs11.as_str(),
                    &stored,
                )
                .await?
            {
                report.pin_key = true;
            } else {
                report.changed_meanwhile += 1;
            }
        }
    }

    for (tenant, sealed) in storage.tenant_cvks().await? {
        if sealed.starts_with(STORED_PREFIX) {
            continue;
        }
        let cvk = open_sealed_cvk(&vault, cvk_binding(&tenant), &sealed)?;
        let stored = custody.store_cvk(&vault, cvk_binding(&tenant), &cvk)?;
        if storage
            .replace_tenant_cvk(&tenant, &sealed, &stored)
            .await?
        {
            report.cvks += 1;
        } else {
            custody.discard_cvk(&stored)?;
            report.changed_meanwhile += 1;
        }
    }
    Ok(report)
}

impl Service {
    fn card_pan(
        &self,
        tenant: &str,
        token: &str,
        pan_sealed: &[u8],
    ) -> Result<zeroize::Zeroizing<String>> {
        let raw = self.vault.open(pan_binding(tenant, token), pan_sealed)?;
        String::from_utf8(raw.to_vec())
            .map(zeroize::Zeroizing::new)
            .map_err(|_| Error::Crypto("stored PAN is not text"))
    }

    /// Seals `pin` for storage: a format-4 block under the PIN key for the
    /// card's PAN, sealed by the vault.
    pub(crate) fn seal_pin(
        &self,
        tenant: &str,
        token: &str,
        pan: &str,
        pin: &Pin,
    ) -> Result<Vec<u8>> {
        let block = pin_block4::encipher(&*self.pin_key, pin, pan)
            .map_err(|_| Error::Crypto("format 4 PIN block encipherment failed"))?;
        Ok(self.vault.seal(pin4_binding(tenant, token), &block)?)
    }

    /// The PIN stored for `card`: a format-4 block deciphered under the
    /// PIN key (or, for a row not yet re-encrypted, the format-2 block).
    pub(crate) fn open_stored_pin(&self, card: &CardRow, sealed: &[u8]) -> Result<Pin> {
        let (tenant, token) = (card.tenant_id.as_str(), card.token.as_str());
        if card.pin_format == Some(PIN_FORMAT_4) {
            // A row rewritten by a node without format 4 (during a rolling
            // upgrade) holds a format-2 block again: its binding tells.
            if let Ok(block) = self.vault.open(pin4_binding(tenant, token), sealed) {
                let pan = self.card_pan(tenant, token, &card.pan_sealed)?;
                return pin_block4::decipher(&*self.pin_key, &block, &pan)
                    .map_err(|_| Error::Crypto("stored PIN block is invalid"));
            }
        }
        self.open_format2_pin(tenant, token, sealed)
    }

    fn open_format2_pin(&self, tenant: &str, token: &str, sealed: &[u8]) -> Result<Pin> {
        let block = self.vault.open(pin2_binding(tenant, token), sealed)?;
        let text = std::str::from_utf8(&block)
            .map_err(|_| Error::Crypto("stored PIN block is not text"))?;
        match pin_block::decode(text, None) {
            Ok((pin, PinBlockFormat::Iso2)) => Ok(pin),
            _ => Err(Error::Crypto("stored PIN block is invalid")),
        }
    }

    /// How many cards still hold a format-2 PIN block.
    pub async fn legacy_pin_count(&self) -> Result<i64> {
        Ok(self.storage.count_legacy_pins().await?)
    }

    /// Re-encrypts every PIN still stored as a format-2 block (rows written
    /// before migration 0011) as a format-4 block under the PIN key. A row
    /// is rewritten only if it still holds the block that was read (a PIN
    /// set meanwhile is kept); a row that cannot be read is left as it is
    /// and counted. Returns (re-encrypted, left unreadable). Runs at start;
    /// `keys migrate-pins` runs it on demand.
    pub async fn migrate_pins(&self) -> Result<(u64, u64)> {
        const BATCH: i64 = 200;
        let (mut done, mut failed) = (0u64, 0u64);
        let mut after: Option<(String, String)> = None;
        loop {
            let rows = self.storage.legacy_pins(after.as_ref(), BATCH).await?;
            let Some(last) = rows.last() else { break };
            after = Some((last.tenant_id.clone(), last.token.clone()));
            for row in &rows {
                let (tenant, token) = (row.tenant_id.as_str(), row.token.as_str());
                let resealed = self
                    .open_format2_pin(tenant, token, &row.pin_sealed)
                    .and_then(|pin| {
                        let pan = self.card_pan(tenant, token, &row.pan_sealed)?;
                        self.seal_pin(tenant, token, &pan, &pin)
                    });
                match resealed {
                    Ok(new) => {
                        if self
                            .storage
                            .replace_legacy_pin(tenant, token, &row.pin_sealed, &new)
                            .await?
                        {
                            done += 1;
                        }
                    }
                    Err(e) => {
                        tracing::error!(tenant, token, error = %e, "a stored PIN block could not be re-encrypted to format 4; left unchanged");
                        failed += 1;
                    }
                }
            }
            if rows.len() < BATCH as usize {
                break;
            }
        }
        if done > 0 {
            tracing::info!(count = done, "stored PINs re-encrypted as format-4 blocks");
        }
        Ok((done, failed))
    }
}
