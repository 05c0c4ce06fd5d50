//! Verifone-style token management, independent of HTTP: reuse
//! tokens per card and token scope, created from an `encrypted_card` that
//! paysecure-wasm made in the cardholder's browser.

use crate::domain::bins::BinInfo;
use crate::domain::error::{Code, Error, Result};
use crate::domain::service::{Principal, Service};
use crate::domain::tokens::{bin_details, set_bin_details, CapturedCard};
use crate::storage::{StorageError, StoredCardRow};
use crate::util::ids::{random_id, uuid};
use crate::util::time::{now, rfc3339, today, year_month, UnixTime};

/// The API name in `stored_cards.api`.
pub const API: &str = "verifone";
/// The standard brand names of Verifone-style token management (other
/// local schemes are allowed).
pub const BRANDS: [&str; 9] = [
    "AMEX",
    "CB",
    "DINERS",
    "DISCOVER",
    "JCB",
    "MAESTRO",
    "MASTERCARD",
    "VISA",
    "UPI",
];

/// `PUT /api/v2/card`.
#[derive(Debug, Clone)]
pub struct PutCard {
    /// The token scope (a UUID) the token lives in.
    pub token_scope: String,
    /// The card, encrypted in the browser by paysecure-wasm `encryptCard`.
    pub encrypted_card: String,
    /// The brand to record (e.g. `CB` for a co-badged card); default: from the BIN.
    pub card_brand: Option<String>,
    /// `REUSE` (the only type).
    pub token_type: Option<String>,
    /// `INTERNAL` (the only type).
    pub reuse_token_type: Option<String>,
    /// `YYYY-MM-DD`: the token expires after this day.
    pub token_expiry_date: Option<String>,
    /// The key id the card was encrypted for (`keyId` of `GET /v2/capture-key`).
    pub public_key_alias: String,
}

/// `PATCH /api/v2/card/{id}`: only the fields sent change.
#[derive(Debug, Clone, Default)]
pub struct PatchCard {
    /// A new capture of the card; links the token to its PAN.
    pub encrypted_card: Option<String>,
    /// 3 or 4 digits: checked, never stored (PCI DSS 3.2).
    pub cvv: Option<String>,
    /// Up to 30 characters.
    pub card_holder_name: Option<String>,
    /// 3 to 254 characters with an `@`.
    pub card_holder_email: Option<String>,
    /// 1 to 12.
    pub expiry_month: Option<i64>,
    /// Four digits.
    pub expiry_year: Option<i64>,
    /// `YYYY-MM-DD`.
    pub token_expiry_date: Option<String>,
    /// With `encrypted_card`: the key it was encrypted for.
    pub public_key_alias: Option<String>,
    /// `CREATE`, `DELETE`, `SUSPEND` or `ACTIVATE`: accepted and ignored, as
    /// no token scope here has network tokens configured.
    pub scheme_token_action: Option<String>,
}

/// A token as the API shows it.
#[derive(Debug, Clone)]
pub struct TokenView {
    /// The reuse token.
    pub reuse_token: String,
    /// Irreversible, stable per card and scope.
    pub analytics_token: String,
    /// The PAN's first six digits, kept in clear for the masked PAN.
    pub bin: String,
    /// 1..=12.
    pub expiry_month: i64,
    /// Four digits.
    pub expiry_year: i64,
    /// The PAN's last four digits, kept in clear for the masked PAN.
    pub last_four: String,
    /// Name on the card.
    pub card_holder_name: Option<String>,
    /// E-mail.
    pub card_holder_email: Option<String>,
    /// The card brand from the BIN (`VISA`, `MASTERCARD`, …).
    pub brand: String,
    /// `YYYY-MM-DD`.
    pub created_at: String,
    /// `YYYY-MM-DD`.
    pub updated_at: String,
    /// `YYYY-MM-DD`.
    pub token_expiry_date: Option<String>,
    /// `INTERNAL`.
    pub reuse_token_type: String,
    /// The token scope.
    pub token_scope: String,
    /// `ACTIVE`, `SUSPENDED` or `EXPIRED`.
    pub token_status: String,
    /// From the BIN table (absent when the BIN is unknown): ISO 4217.
    pub currency: Option<String>,
    /// From the BIN table: ISO 3166-1 alpha-3.
    pub issuer_country: Option<String>,
    /// From the BIN table.
    pub issuer_name: Option<String>,
    /// From the BIN table: `CREDIT`, `DEBIT`, `PREPAID` or `CHARGE`.
    pub card_type: Option<String>,
    /// From the BIN table, e.g. `NEW_WORLD`.
    pub variant: Option<String>,
}

/// The brand as this API spells it (the Verifone Token Management document's list says `UPI` for Union Pay).
fn api_brand(brand: &str) -> &str {
    match brand {
        "UNIONPAY" => "UPI",
        b => b,
    }
}

/// Checks a `card_brand` against the card: one of the standard names must
/// be the brand of the PAN (from its prefix, or the BIN table's scheme);
/// `CB` (Cartes Bancaires) goes with a VISA or MASTERCARD PAN it is
/// co-badged with. Other local scheme names cannot be checked and are
/// taken as given, as is any name for a PAN of no known brand.
fn check_brand(given: &str, pan: &str, bin: Option<&BinInfo>) -> Result<()> {
    let detected = paysecure_core::card::card_brand(pan)
        .map(|b| api_brand(b.as_str()).to_owned())
        .unwrap_or_else(|_| "UNKNOWN".into());
    let table = bin.map(|b| api_brand(&b.scheme).to_owned());
    let ok = !BRANDS.contains(&given)
        || (detected == "UNKNOWN" && table.is_none())
        || given == detected
        || table.as_deref() == Some(given)
        || (given == "CB" && matches!(detected.as_str(), "VISA" | "MASTERCARD"));
    if ok {
        Ok(())
    } else {
        Err(bad(
            Code::CardBrandMismatch,
            "card_brand is not the brand of the card number",
        ))
    }
}

fn bad(code: Code, message: &'static str) -> Error {
    Error::bad_request(code, message)
}

/// A calendar date `YYYY-MM-DD`, not before today.
fn future_date(s: &str) -> Result<String> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(s, &format)
        .ok()
        .filter(|_| s.len() == 10 && s >= today().as_str())
        .map(|_| s.to_owned())
        .ok_or(bad(
            Code::InvalidTokenExpiryDate,
            "token_expiry_date must be a date YYYY-MM-DD, today or later",
        ))
}

fn check_name(name: &str) -> Result<()> {
    let n = name.chars().count();
    if (1..=30).contains(&n) && !name.chars().any(char::is_control) {
        Ok(())
    } else {
        Err(bad(
            Code::InvalidCardHolderName,
            "card_holder_name must be 1 to 30 characters",
        ))
    }
}

fn check_email(email: &str) -> Result<()> {
    let ok = (3..=254).contains(&email.len())
        && email.contains('@')
        && !email.starts_with('@')
        && !email.ends_with('@')
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(())
    } else {
        Err(bad(
            Code::InvalidCardHolderEmail,
            "card_holder_email must be an e-mail address of 3 to 254 characters",
        ))
    }
}

fn check_id(id: &str) -> Result<()> {
    if (14..=255).contains(&id.len()) {
        Ok(())
    } else {
        Err(bad(
            Code::InvalidTokenId,
            "a reuse token is 14 to 255 characters",
        ))
    }
}

/// The status a caller sees: a token past its expiry date is `EXPIRED`.
fn effective_status(row: &StoredCardRow) -> &str {
    match &row.token_expiry {
        Some(d) if d.as_str() < today().as_str() => "EXPIRED",
        _ => &row.status,
    }
}

const SUSPENDED: Error = Error::Conflict {
    code: Code::TokenSuspended,
    message: "the token is suspended; activate it first",
};
const EXPIRED: Error = Error::Conflict {
    code: Code::TokenExpired,
    message: "the token has expired; send a new token_expiry_date to renew it",
};
const CONCURRENT: Error = Error::Conflict {
    code: Code::ConcurrentUpdate,
    message: "the token kept changing; retry",
};

fn date_of(t: UnixTime) -> String {
    rfc3339(t).get(..10).unwrap_or_default().to_owned()
}

/// Verifone-style token management over the service's state
/// ([`Service::verifone`]).
pub struct Verifone<'a>(&'a Service);

impl Service {
    /// Verifone-style token management: create or update, read, patch,
    /// suspend, activate and delete reuse tokens.
    pub fn verifone(&self) -> Verifone<'_> {
        Verifone(self)
    }
}

impl Verifone<'_> {
    fn view(&self, row: &StoredCardRow) -> Result<TokenView> {
        let details = self.0.stored_details(row)?;
        let bin = bin_details(&details);
        Ok(TokenView {
            reuse_token: row.token.clone(),
            analytics_token: row.analytics_token.clone(),
            bin: row.pan_first6.clone(),
            expiry_month: row.expiry_month,
            expiry_year: row.expiry_year,
            last_four: row.pan_last4.clone(),
            card_holder_name: details.get("card_holder_name").cloned(),
            card_holder_email: details.get("card_holder_email").cloned(),
            brand: api_brand(&row.brand).to_owned(),
            created_at: date_of(row.created_at),
            updated_at: date_of(row.updated_at),
            token_expiry_date: row.token_expiry.clone(),
            reuse_token_type: "INTERNAL".into(),
            token_scope: row.scope.clone(),
            token_status: effective_status(row).to_owned(),
            currency: bin.currency,
            issuer_country: bin.country,
            issuer_name: bin.issuer_name,
            card_type: bin.card_type,
            variant: bin.variant,
        })
    }

    async fn row(&self, principal: &Principal, id: &str) -> Result<StoredCardRow> {
        let tenant = principal.require_tenant()?;
        check_id(id)?;
        self.0
            .storage
            .stored_card(tenant, API, id)
            .await?
            .ok_or(Error::TokenNotFound)
    }

    /// Applies a captured card to a row (PAN, expiry, name, what the BIN
    /// table says of it).
    fn apply_capture(
        &self,
        row: &mut StoredCardRow,
        card: &CapturedCard,
        relink: bool,
        bin: Option<&BinInfo>,
    ) -> Result<()> {
        if relink {
            self.0.link_pan(row, &card.pan)?;
        }
        row.expiry_month = card.expiry_month;
        row.expiry_year = card.expiry_year;
        let mut details = self.0.stored_details(row).unwrap_or_default();
        if let Some(name) = &card.cardholder_name {
            check_name(name)?;
            details.insert("card_holder_name".into(), name.clone());
        }
        set_bin_details(&mut details, bin);
        self.0.set_details(row, &details)?;
        Ok(())
    }

    /// Creates a token for the card, or updates the card's token in that
    /// scope. Returns the token and whether it is new.
    pub async fn put_card(
        &self,
        principal: &Principal,
        req: &PutCard,
    ) -> Result<(TokenView, bool)> {
        let tenant = principal.require_tenant()?;
        let scope = uuid(&req.token_scope)
            .ok_or(bad(Code::InvalidTokenScope, "token_scope must be a UUID"))?;
        if req.token_type.as_deref().is_some_and(|t| t != "REUSE") {
            return Err(bad(Code::UnsupportedTokenType, "token_type must be REUSE"));
        }
        if req
            .reuse_token_type
            .as_deref()
            .is_some_and(|t| t != "INTERNAL")
        {
            return Err(bad(
                Code::UnsupportedReuseTokenType,
                "reuse_token_type must be INTERNAL (third-party tokens are not supported)",
            ));
        }
        let brand = match req.card_brand.as_deref() {
            None => None,
            Some(b)
                if BRANDS.contains(&b)
                    || ((2..=20).contains(&b.len())
                        && b.bytes().all(|c| {
                            c.is_ascii_uppercase() || c.is_ascii_digit() || c == b'_'
                        })) =>
            {
                Some(b.to_owned())
            }
            Some(_) => {
                return Err(bad(
                    Code::InvalidCardBrand,
                    "card_brand must be a scheme name such as VISA, MASTERCARD, AMEX or CB",
                ))
            }
        };
        let token_expiry = req
            .token_expiry_date
            .as_deref()
            .map(future_date)
            .transpose()?;
        let card = self
            .0
            .open_encrypted_card(tenant, &req.encrypted_card, Some(&req.public_key_alias))
            .await?;
        if let Some(name) = &card.cardholder_name {
            check_name(name)?;
        }
        let bin = self.0.bin_info(&card.pan).await?;
        if let Some(b) = &brand {
            check_brand(b, &card.pan, bin.as_ref())?;
        }
        let index = self.0.vault.pan_index(tenant, &card.pan);
        for _ in 0..5 {
            if let Some(mut row) = self
                .0
                .storage
                .stored_card_in_scope(tenant, &scope, &index)
                .await?
            {
                match effective_status(&row) {
                    "SUSPENDED" => return Err(SUSPENDED),
                    "EXPIRED" if token_expiry.is_none() => return Err(EXPIRED),
                    _ => {}
                }
                self.apply_capture(&mut row, &card, false, bin.as_ref())?;
                if let Some(b) = &brand {
                    row.brand = b.clone();
                }
                if token_expiry.is_some() {
                    row.token_expiry = token_expiry.clone();
                }
                row.version += 1;
                row.updated_at = now();
                if self.0.storage.update_stored_card(&row).await? {
                    return Ok((self.view(&row)?, false));
                }
                continue;
            }
            let mut row = self
                .0
                .new_stored_row(tenant, API, &scope, random_id::<15>("VF")?);
            self.0.link_pan(&mut row, &card.pan)?;
            self.0.set_details(&mut row, &Default::default())?;
            self.apply_capture(&mut row, &card, false, bin.as_ref())?;
            if let Some(b) = &brand {
                row.brand = b.clone();
            }
            row.token_expiry = token_expiry.clone();
            match self.0.storage.insert_stored_card(&row).await {
                Ok(()) => return Ok((self.view(&row)?, true)),
                // The same card tokenised concurrently: update that token.
                Err(StorageError::Duplicate) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(CONCURRENT)
    }

    /// The token `id`.
    pub async fn get_card(&self, principal: &Principal, id: &str) -> Result<TokenView> {
        let row = self.row(principal, id).await?;
        self.view(&row)
    }

    /// Deletes the token `id` for good.
    pub async fn delete_card(&self, principal: &Principal, id: &str) -> Result<()> {
        let row = self.row(principal, id).await?;
        if self
            .0
            .storage
            .delete_stored_card(&row.tenant_id, API, &row.token)
            .await?
        {
            Ok(())
        } else {
            Err(Error::TokenNotFound)
        }
    }

    /// Suspends (or re-activates) the token `id`.
    pub async fn set_suspended(
        &self,
        principal: &Principal,
        id: &str,
        suspend: bool,
    ) -> Result<()> {
        for _ in 0..5 {
            let mut row = self.row(principal, id).await?;
            if !suspend && effective_status(&row) == "EXPIRED" {
                return Err(EXPIRED);
            }
            let status = if suspend { "SUSPENDED" } else { "ACTIVE" };
            if row.status == status {
                return Ok(());
            }
            row.status = status.into();
            row.version += 1;
            row.updated_at = now();
            if self.0.storage.update_stored_card(&row).await? {
                return Ok(());
            }
        }
        Err(CONCURRENT)
    }

    /// Partially updates the token `id`.
    pub async fn patch_card(
        &self,
        principal: &Principal,
        id: &str,
        req: &PatchCard,
    ) -> Result<TokenView> {
        let empty = req.encrypted_card.is_none()
            && req.cvv.is_none()
            && req.card_holder_name.is_none()
            && req.card_holder_email.is_none()
            && req.expiry_month.is_none()
            && req.expiry_year.is_none()
            && req.token_expiry_date.is_none()
            && req.scheme_token_action.is_none();
        if req.public_key_alias.is_some() && req.encrypted_card.is_none() {
            return Err(bad(
                Code::InvalidRequest,
                "public_key_alias only goes with encrypted_card",
            ));
        }
        if empty {
            return Err(bad(Code::EmptyUpdate, "the body changes nothing"));
        }
        if let Some(cvv) = &req.cvv {
            if !(3..=4).contains(&cvv.len()) || !cvv.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad(Code::InvalidCvv, "cvv must be 3 or 4 digits"));
            }
        }
        if let Some(n) = &req.card_holder_name {
            check_name(n)?;
        }
        if let Some(e) = &req.card_holder_email {
            check_email(e)?;
        }
        if req.expiry_month.is_some_and(|m| !(1..=12).contains(&m)) {
            return Err(bad(Code::InvalidCardExpiry, "expiry_month must be 1 to 12"));
        }
        if req.expiry_year.is_some_and(|y| !(1000..=9999).contains(&y)) {
            return Err(bad(
                Code::InvalidCardExpiry,
                "expiry_year must be four digits (up to 9999)",
            ));
        }
        if req
            .scheme_token_action
            .as_deref()
            .is_some_and(|a| !["CREATE", "DELETE", "SUSPEND", "ACTIVATE"].contains(&a))
        {
            return Err(bad(
                Code::InvalidSchemeTokenAction,
                "scheme_token_action must be CREATE, DELETE, SUSPEND or ACTIVATE",
            ));
        }
        let token_expiry = req
            .token_expiry_date
            .as_deref()
            .map(future_date)
            .transpose()?;
        // The token must exist in the caller's tenant before any RSA work.
        let tenant = self.row(principal, id).await?.tenant_id;
        let card = match req.encrypted_card.as_deref() {
            Some(c) => Some(
                self.0
                    .open_encrypted_card(&tenant, c, req.public_key_alias.as_deref())
                    .await?,
            ),
            None => None,
        };
        let bin = match &card {
            Some(c) => self.0.bin_info(&c.pan).await?,
            None => None,
        };
        for _ in 0..5 {
            let mut row = self.row(principal, id).await?;
            match effective_status(&row) {
                "SUSPENDED" => return Err(SUSPENDED),
                "EXPIRED" if token_expiry.is_none() => return Err(EXPIRED),
                _ => {}
            }
            if let Some(card) = &card {
                self.apply_capture(&mut row, card, true, bin.as_ref())?;
            }
            let mut details = self.0.stored_details(&row)?;
            if let Some(n) = &req.card_holder_name {
                details.insert("card_holder_name".into(), n.clone());
            }
            if let Some(e) = &req.card_holder_email {
                details.insert("card_holder_email".into(), e.clone());
            }
            self.0.set_details(&mut row, &details)?;
            row.expiry_month = req.expiry_month.unwrap_or(row.expiry_month);
            row.expiry_year = req.expiry_year.unwrap_or(row.expiry_year);
            if (req.expiry_month.is_some() || req.expiry_year.is_some())
                && (row.expiry_year, row.expiry_month) < year_month(now())
            {
                return Err(bad(
                    Code::InvalidCardExpiry,
                    "the card expiry is in the past",
                ));
            }
            if token_expiry.is_some() {
                row.token_expiry = token_expiry.clone();
            }
            row.version += 1;
            row.updated_at = now();
            match self.0.storage.update_stored_card(&row).await {
                Ok(true) => return self.view(&row),
                Ok(false) => continue,
                Err(StorageError::Duplicate) => {
                    return Err(Error::Conflict {
                        code: Code::CardAlreadyTokenised,
                        message: "this card already has another token in the token scope",
                    })
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(CONCURRENT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_checks() {
        assert_eq!(
            uuid("0E48425A-f1bc-431a-b7d8-f866de8ba276").as_deref(),
            Some("0e48425a-f1bc-431a-b7d8-f866de8ba276")
        );
        assert!(uuid("0e48425a-f1bc-431a-b7d8-f866de8ba27").is_none());
        assert!(future_date("2999-12-31").is_ok());
        for bad in ["2000-01-01", "2999-02-30", "2999-1-01", "tomorrow"] {
            assert!(future_date(bad).is_err(), "{bad}");
        }
        assert!(check_name(&"x".repeat(30)).is_ok());
        assert!(check_name(&"x".repeat(31)).is_err());
        assert!(check_email("a@b").is_ok());
        for bad in ["ab", "@ab", "ab@", "a b@c", "nobody"] {
            assert!(check_email(bad).is_err(), "{bad}");
        }
        assert!(check_id("VFrandom54965984").is_ok());
        assert!(check_id("VFrandom549659").is_ok());
        assert!(check_id("VFrandom54965").is_err());
    }
}
