//! The Get CVV2 envelope API, the JSON envelope of IVR and self-service
//! channels: a request is an `NISrvRequest` object, every answer an
//! `NISrvResponse` ("NI" is the prefix the source API gives both objects;
//! it means nothing else here). This module holds how the envelope names
//! a card (by token, or by EXID, the external id the tenant assigned) and
//! whether a tenant lets it answer CVV2 in clear.

use paysecure_core::Version;

use crate::domain::error::{Code, Error, Result};
use crate::domain::service::{Principal, Scope, Service};
use crate::domain::sessions::CardGrant;

/// How the Get CVV2 envelope names a card (`card_identifier_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardIdentifier<'a> {
    /// `CONTRACT_NUMBER`: the card number itself, or the card's token.
    ContractNumber(&'a str),
    /// `EXID`: the external id the tenant assigned.
    Exid(&'a str),
}

/// Whether a `CONTRACT_NUMBER` is a card number: 12 to 19 ASCII digits
/// (a card token is `tok_` and hex, an EXID has its own type).
pub fn is_card_number(id: &str) -> bool {
    (12..=19).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_digit())
}

impl Service {
    /// Authorizes the Get CVV2 envelope for a card named as it
    /// names cards, checked against the expiry the caller gave (`YYMM`),
    /// all before any session is opened.
    pub async fn grant_envelope_cvv2(
        &self,
        principal: &Principal,
        id: CardIdentifier<'_>,
        expiry_yymm: &str,
    ) -> Result<CardGrant> {
        let tenant = principal.tenant_id();
        let found = self.envelope_card_token(tenant, id).await;
        // An ephemeral key (one card) learns nothing about other cards: a
        // card number or EXID that names no card answers as one that names
        // another card (403), so the look-up is no membership oracle.
        let token = match (found, principal) {
            (Err(Error::CardNotFound), Principal::Ephemeral { .. }) => {
                return Err(Error::Forbidden("this key does not allow this operation"))
            }
            (found, _) => found?,
        };
        let grant = self
            .grant_card(principal, Version::V2, &token, Scope::Cvv2)
            .await?;
        if Self::expiry_yymm(grant.card())? != expiry_yymm {
            return Err(Error::bad_request(
                Code::ExpiryMismatch,
                "expiry_date does not match the card",
            ));
        }
        Ok(grant)
    }

    /// The token of the card the envelope names, in `tenant`.
    async fn envelope_card_token(&self, tenant: &str, id: CardIdentifier<'_>) -> Result<String> {
        Ok(match id {
            // The card number itself (12 to 19 digits; tokens are `tok_…`):
            // found through the keyed PAN index, never logged.
            CardIdentifier::ContractNumber(n) if is_card_number(n) => {
                self.card_by_pan(tenant, n).await?.token
            }
            CardIdentifier::ContractNumber(t) => t.to_owned(),
            CardIdentifier::Exid(x) => self
                .storage
                .card_token_by_exid(tenant, x)
                .await?
                .ok_or(Error::CardNotFound)?,
        })
    }

    /// Whether the tenant allows the envelope API to answer CVV2 in clear.
    pub async fn allows_plain_cvv2(&self, tenant: &str) -> Result<bool> {
        Ok(self.storage.tenant_allows_plain_cvv2(tenant).await?)
    }

    /// Lets a tenant have CVV2 in clear from the envelope API (or not).
    pub async fn set_allow_plain_cvv2(&self, tenant: &str, allow: bool) -> Result<()> {
        if self.storage.set_allow_plain_cvv2(tenant, allow).await? {
            Ok(())
        } else {
            Err(Error::bad_request(Code::UnknownTenant, "no such tenant"))
        }
    }
}
