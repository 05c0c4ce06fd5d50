//! PaySecure V1/V2/V3 card operations over the vault: sandbox issuing,
//! PAN to token, the card list, the clear card data a grant allows (PAN,
//! expiry, CVV2, PIN), PIN and CVV2 verification with their attempt limits,
//! and unblocking. PINs are stored as format-4 blocks under the key
//! custody's PIN key ([`crate::domain::custody`]).

use paysecure_core::card::{self, CardBrand};
use paysecure_core::Pin;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::crypto::custody::Cvk;
use crate::crypto::cvv;
use crate::crypto::vault::Binding;
use crate::domain::card_list::{CardCursor, CardPage, PageRequest};
use crate::domain::error::{Code, Error, Result};
use crate::domain::service::{
    CardSecrets, CardSummary, IssueCard, PinVerification, Principal, Scope, Service,
    CVV2_TRY_LIMIT, DEFAULT_BIN, PIN_TRY_LIMIT,
};
use crate::domain::sessions::{CardGrant, Grant, TenantGrant};
use crate::storage::{CardFilter, CardRow, Guessable, NewCard, StorageError};
use crate::util::ids::{random_bytes, random_id};
use crate::util::time::now;

const EXID_TAKEN: Error = Error::Conflict {
    code: Code::ExidTaken,
    message: "another card of the tenant has this exid",
};

pub(crate) fn pan_binding<'a>(tenant: &'a str, token: &'a str) -> Binding<'a> {
    Binding {
        tenant,
        subject: token,
        field: "pan",
    }
}

pub(crate) fn cvk_binding(tenant: &str) -> Binding<'_> {
    Binding {
        tenant,
        subject: "-",
        field: "cvk",
    }
}

impl Service {
    pub(crate) async fn card_row(&self, tenant: &str, token: &str) -> Result<CardRow> {
        self.storage
            .card(tenant, token)
            .await?
            .ok_or(Error::CardNotFound)
    }

    pub(crate) fn open_pan(&self, card: &CardRow) -> Result<Zeroizing<String>> {
        let raw = self
            .vault
            .open(pan_binding(&card.tenant_id, &card.token), &card.pan_sealed)?;
        String::from_utf8(raw.to_vec())
            .map(Zeroizing::new)
            .map_err(|_| Error::Crypto("stored PAN is not text"))
    }

    /// The tenant's CVK pair, from the key custody (in the token with
    /// `--key-custody pkcs11`, else sealed by the vault).
    pub(crate) async fn cvk(&self, tenant: &str) -> Result<Cvk> {
        let t = self
            .storage
            .tenant(tenant)
            .await?
            .ok_or(Error::Unauthenticated)?;
        Ok(self
            .custody
            .load_cvk(&self.vault, cvk_binding(tenant), &t.cvk_sealed)?)
    }

    pub(crate) fn expiry_yymm(card: &CardRow) -> Result<String> {
        match (card.expiry_month, card.expiry_year) {
            (Some(m), Some(y)) => Ok(format!("{:02}{:02}", y % 100, m)),
            _ => Err(Error::Conflict {
                code: Code::NoExpiry,
                message: "this token has no card expiry (a PAN-only token)",
            }),
        }
    }

    /// Issues a sandbox card: a Luhn-valid PAN for the BIN, an expiry 3 years
    /// out, a CVV2 under the tenant's CVK.
    pub async fn issue_card(&self, principal: &Principal, req: &IssueCard) -> Result<CardSummary> {
        let tenant = principal.require_tenant()?;
        let bin = req.bin.as_deref().unwrap_or(DEFAULT_BIN);
        if !(6..=11).contains(&bin.len()) || !bin.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::bad_request(
                Code::InvalidBin,
                "bin must be 6 to 11 digits",
            ));
        }
        for field in [
            &req.account_id,
            &req.customer_id,
            &req.customer_ref,
            &req.cardholder_name,
        ]
        .into_iter()
        .flatten()
        {
            if field.chars().count() > 200 {
                return Err(Error::bad_request(
                    Code::InvalidRequest,
                    "text fields are at most 200 characters",
                ));
            }
        }
        if let Some(exid) = &req.exid {
            let ok = (1..=32).contains(&exid.len())
                && exid
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !ok {
                return Err(Error::bad_request(
                    Code::InvalidExid,
                    "exid must be 1 to 32 letters, digits, '-' or '_'",
                ));
            }
            if self
                .storage
                .card_token_by_exid(tenant, exid)
                .await?
                .is_some()
            {
                return Err(EXID_TAKEN);
            }
        }
        let date = time::OffsetDateTime::from_unix_timestamp(now().secs())
            .map_err(|_| Error::Crypto("clock"))?;
        let (month, year) = (
            i64::from(u8::from(date.month())),
            i64::from(date.year()) + 3,
        );
        // The brand's usual PAN length: AMEX 15, Diners 14, others 16.
        let pan_len = match card::card_brand(bin) {
            Ok(CardBrand::Amex) => 15,
            Ok(CardBrand::Diners) => 14,
            _ => 16,
        };
        if bin.len() >= pan_len - 1 {
            return Err(Error::bad_request(
                Code::InvalidBin,
                "the BIN leaves no room for account digits",
            ));
        }
        // A collision with an existing PAN is possible in principle; retry.
        for _ in 0..5 {
            let mut pan = Zeroizing::new(bin.to_owned());
            let digits = random_bytes::<16>()?;
            for d in digits.iter().take(pan_len - 1 - bin.len()) {
                pan.push(char::from(b'0' + d % 10));
            }
            let check =
                card::luhn_check_digit(&pan).map_err(|_| Error::Crypto("PAN generation"))?;
            pan.push(char::from(b'0' + check));
            match self
                .insert_card(tenant, &pan, Some((month, year)), "ACTIVE", req)
                .await
            {
                Err(Error::Storage(StorageError::Duplicate)) => {
                    // Another card took the external id meanwhile?
                    if let Some(exid) = &req.exid {
                        if self
                            .storage
                            .card_token_by_exid(tenant, exid)
                            .await?
                            .is_some()
                        {
                            return Err(EXID_TAKEN);
                        }
                    }
                    continue;
                }
                other => return other,
            }
        }
        Err(Error::Conflict {
            code: Code::BinExhausted,
            message: "could not allocate a new PAN in this BIN",
        })
    }

    pub(crate) async fn insert_card(
        &self,
        tenant: &str,
        pan: &str,
        expiry: Option<(i64, i64)>,
        status: &str,
        req: &IssueCard,
    ) -> Result<CardSummary> {
        let token = random_id::<12>("tok_")?;
        let brand = card::card_brand(pan).unwrap_or(CardBrand::Unknown);
        let pan_sealed = self
            .vault
            .seal(pan_binding(tenant, &token), pan.as_bytes())?;
        let index = self.vault.pan_index(tenant, pan);
        let new = NewCard {
            tenant_id: tenant,
            token: &token,
            pan_index: &index,
            pan_sealed: &pan_sealed,
            pan_first6: pan.get(..6).unwrap_or(""),
            pan_last4: pan.get(pan.len().saturating_sub(4)..).unwrap_or(""),
            pan_length: pan.len() as i64,
            brand: brand.as_str(),
            expiry_month: expiry.map(|e| e.0),
            expiry_year: expiry.map(|e| e.1),
            status,
            account_id: req.account_id.as_deref(),
            customer_id: req.customer_id.as_deref(),
            customer_ref: req.customer_ref.as_deref(),
            cardholder_name: req.cardholder_name.as_deref(),
            created_at: now(),
            exid: req.exid.as_deref(),
        };
        self.storage.insert_card(&new).await?;
        let row = self.card_row(tenant, &token).await?;
        Ok(CardSummary::from(&row))
    }

    /// PAN to token: the same PAN in the same tenant always gives the same
    /// token; a PAN not yet vaulted is vaulted as a PAN-only token.
    pub async fn tokenize(&self, grant: &TenantGrant, pan: &str) -> Result<CardSummary> {
        let tenant = grant.tenant();
        let pan = card::normalize_pan(pan)
            .map_err(|_| Error::bad_request(Code::InvalidPan, "the PAN must be 12 to 19 digits"))?;
        if !card::luhn_check(&pan) {
            return Err(Error::bad_request(
                Code::InvalidPan,
                "the PAN fails the Luhn check",
            ));
        }
        if let Some(row) = self
            .storage
            .card_by_pan_index(tenant, &self.vault.pan_index(tenant, &pan))
            .await?
        {
            self.limit_card(tenant, &row.token)?;
            return Ok(CardSummary::from(&row));
        }
        match self
            .insert_card(tenant, &pan, None, "TOKENIZED", &IssueCard::default())
            .await
        {
            // Two concurrent first calls: the other one won; return its token.
            Err(Error::Storage(StorageError::Duplicate)) => {
                let row = self
                    .storage
                    .card_by_pan_index(tenant, &self.vault.pan_index(tenant, &pan))
                    .await?;
                row.map(|r| CardSummary::from(&r))
                    .ok_or(Error::CardNotFound)
            }
            other => other,
        }
    }

    /// One page of the detailed card list (masked), in a stable order: by
    /// creation time, then token. `page.after` is the `next` cursor of the
    /// previous page. Cards created while a caller pages may or may not
    /// appear (those created later than the cursor always do); no card is
    /// listed twice and none present throughout is skipped.
    pub async fn list_cards(
        &self,
        principal: &Principal,
        filter: &CardFilter,
        page: &PageRequest,
    ) -> Result<CardPage> {
        let tenant = principal.require_tenant()?;
        let after = page
            .after
            .as_ref()
            .map(|c| (c.created_at, c.token.as_str()));
        let mut rows = self
            .storage
            .cards(tenant, filter, after, page.limit + 1)
            .await?;
        let has_more = rows.len() > page.limit as usize;
        rows.truncate(page.limit as usize);
        let next = if has_more {
            rows.last().map(|r| CardCursor {
                created_at: r.created_at,
                token: r.token.clone(),
            })
        } else {
            None
        };
        Ok(CardPage {
            cards: rows.iter().map(CardSummary::from).collect(),
            next,
        })
    }

    /// PAN and expiry of a card (a grant for `pan` or `reveal`).
    pub fn card_secrets(&self, grant: &CardGrant) -> Result<CardSecrets> {
        grant.require(&[Scope::Pan, Scope::Reveal])?;
        let card = grant.card();
        Ok(CardSecrets {
            pan: self.open_pan(card)?,
            expiry_month: card.expiry_month,
            expiry_year: card.expiry_year,
        })
    }

    /// The CVV2 of a card, computed with the tenant's CVK (a grant for
    /// `cvv2` or `reveal`).
    pub async fn cvv2(&self, grant: &CardGrant) -> Result<Zeroizing<String>> {
        grant.require(&[Scope::Cvv2, Scope::Reveal])?;
        let card = grant.card();
        let pan = self.open_pan(card)?;
        let cvk = self.cvk(grant.tenant()).await?;
        cvv::cvv2(&*cvk, &pan, &Self::expiry_yymm(card)?)
            .map(Zeroizing::new)
            .map_err(|_| Error::Crypto("CVV computation failed"))
    }

    /// Verifies a CVV2 by recomputation (a grant for `cvv2:verify`).
    /// Consecutive wrong CVV2s are counted per card in the database
    /// (atomically, shared by all nodes); the [`CVV2_TRY_LIMIT`]th blocks
    /// verification ([`Error::Cvv2Blocked`], for right and wrong candidates
    /// alike) until [`Self::unblock_cvv2`]; a right CVV2 resets the count.
    pub async fn verify_cvv2(&self, grant: &CardGrant, candidate: &str) -> Result<bool> {
        grant.require(&[Scope::Cvv2Verify])?;
        self.verify_cvv2_on(grant.tenant(), grant.card(), candidate)
            .await
    }

    /// Verifies a CVV2 for a provided PAN (tenant only).
    pub async fn verify_cvv2_by_pan(
        &self,
        grant: &TenantGrant,
        pan: &str,
        candidate: &str,
    ) -> Result<bool> {
        let tenant = grant.tenant();
        let card = self.card_by_pan(tenant, pan).await?;
        self.limit_card(tenant, &card.token)?;
        self.verify_cvv2_on(tenant, &card, candidate).await
    }

    pub(crate) async fn verify_cvv2_on(
        &self,
        tenant: &str,
        card: &CardRow,
        candidate: &str,
    ) -> Result<bool> {
        if candidate.len() != 3 || !candidate.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::bad_request(Code::InvalidCvv2, "a CVV2 is 3 digits"));
        }
        let pan = self.open_pan(card)?;
        let cvk = self.cvk(tenant).await?;
        let right = cvv::verify(&*cvk, &pan, &Self::expiry_yymm(card)?, "000", candidate)
            .map_err(|_| Error::Crypto("CVV computation failed"))?;
        // One conditional UPDATE either way: a blocked card answers the same
        // to a right and a wrong CVV2.
        let counted = if right {
            self.storage
                .record_right_guess(Guessable::Cvv2, tenant, &card.token)
                .await?
        } else {
            self.storage
                .record_wrong_guess(Guessable::Cvv2, tenant, &card.token, CVV2_TRY_LIMIT)
                .await?
                .is_some()
        };
        if counted {
            Ok(right)
        } else {
            Err(Error::Cvv2Blocked)
        }
    }

    /// Unblocks the card's CVV2 verification and clears its count (tenant
    /// only).
    pub async fn unblock_cvv2(&self, principal: &Principal, token: &str) -> Result<CardSummary> {
        self.unblock(principal, token, Guessable::Cvv2).await
    }

    pub(crate) async fn unblock(
        &self,
        principal: &Principal,
        token: &str,
        secret: Guessable,
    ) -> Result<CardSummary> {
        let tenant = principal.require_tenant()?;
        if !self.storage.unblock_guesses(secret, tenant, token).await? {
            return Err(Error::CardNotFound);
        }
        Ok(CardSummary::from(&self.card_row(tenant, token).await?))
    }

    pub(crate) async fn card_by_pan(&self, tenant: &str, pan: &str) -> Result<CardRow> {
        let pan = card::normalize_pan(pan)
            .map_err(|_| Error::bad_request(Code::InvalidPan, "the PAN must be 12 to 19 digits"))?;
        self.storage
            .card_by_pan_index(tenant, &self.vault.pan_index(tenant, &pan))
            .await?
            .ok_or(Error::CardNotFound)
    }

    /// The card's PIN (a grant for `pin:read`).
    pub fn get_pin(&self, grant: &CardGrant) -> Result<Pin> {
        grant.require(&[Scope::PinRead])?;
        let card = grant.card();
        if card.pin_blocked {
            return Err(Error::PinBlocked);
        }
        self.stored_pin(card)
    }

    pub(crate) fn stored_pin(&self, card: &CardRow) -> Result<Pin> {
        let sealed = card.pin_sealed.as_deref().ok_or(Error::Conflict {
            code: Code::PinNotSet,
            message: "no PIN is set for this card",
        })?;
        self.open_stored_pin(card, sealed)
    }

    /// Sets the card's PIN (a grant for `pin:write`; refused while the PIN
    /// is blocked, and refused with `WEAK_PIN` when it is too easy to guess:
    /// the rules of [`paysecure_core::pin_weakness`], which the PIN widget
    /// shows too).
    pub async fn set_pin(&self, grant: &CardGrant, pin: &Pin) -> Result<()> {
        grant.require(&[Scope::PinWrite])?;
        let (tenant, token, card) = (grant.tenant(), grant.token(), grant.card());
        if card.pin_blocked {
            return Err(Error::PinBlocked);
        }
        // One message whatever the rule: which one matched says something
        // about the digits, and error messages may be logged.
        if paysecure_core::pin_weakness(pin).is_some() {
            return Err(Error::bad_request(
                Code::WeakPin,
                "the PIN is too easy to guess (one repeated digit, a run, a repeated pair or a common PIN); choose another",
            ));
        }
        // The PIN (decrypted from the client's format-2 block by the
        // caller) goes straight into a format-4 block under the PIN key.
        let pan = self.open_pan(card)?;
        let sealed = self.seal_pin(tenant, token, &pan, pin)?;
        if self.storage.set_pin(tenant, token, &sealed).await? {
            Ok(())
        } else {
            Err(Error::PinBlocked)
        }
    }

    /// Verifies the card's PIN (a grant for `pin:verify`); three
    /// consecutive wrong PINs block it.
    pub async fn verify_pin(&self, grant: &CardGrant, candidate: &Pin) -> Result<PinVerification> {
        grant.require(&[Scope::PinVerify])?;
        self.verify_pin_on(grant.card(), candidate).await
    }

    /// Verifies a PIN for a provided PAN (tenant only).
    pub async fn verify_pin_by_pan(
        &self,
        grant: &TenantGrant,
        pan: &str,
        candidate: &Pin,
    ) -> Result<PinVerification> {
        let tenant = grant.tenant();
        let card = self.card_by_pan(tenant, pan).await?;
        self.limit_card(tenant, &card.token)?;
        self.verify_pin_on(&card, candidate).await
    }

    pub(crate) async fn verify_pin_on(
        &self,
        card: &CardRow,
        candidate: &Pin,
    ) -> Result<PinVerification> {
        if card.pin_blocked {
            return Err(Error::PinBlocked);
        }
        let stored = self.stored_pin(card)?;
        let right: bool = stored
            .expose()
            .as_bytes()
            .ct_eq(candidate.expose().as_bytes())
            .into();
        if right {
            if self
                .storage
                .record_right_guess(Guessable::Pin, &card.tenant_id, &card.token)
                .await?
            {
                Ok(PinVerification {
                    verified: true,
                    tries_remaining: PIN_TRY_LIMIT,
                })
            } else {
                Err(Error::PinBlocked)
            }
        } else {
            match self
                .storage
                .record_wrong_guess(Guessable::Pin, &card.tenant_id, &card.token, PIN_TRY_LIMIT)
                .await?
            {
                Some(c) => Ok(PinVerification {
                    verified: false,
                    tries_remaining: (PIN_TRY_LIMIT - c.tries).max(0),
                }),
                None => Err(Error::PinBlocked),
            }
        }
    }

    /// Unblocks the PIN (tenant only).
    pub async fn unblock_pin(&self, principal: &Principal, token: &str) -> Result<CardSummary> {
        self.unblock(principal, token, Guessable::Pin).await
    }
}
