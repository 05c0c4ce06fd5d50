//! Attacks on wallet provisioning (issue #17: `POST /v2/cards/{token}/
//! digitization/apple` and `/mdes`): credentials, scope, card and tenant
//! configuration are checked before any certificate is parsed or any ECDH,
//! ECDSA or RSA operation runs; the per-card rate limit covers both routes;
//! an inactive card is refused; the card never reaches the log. The Apple
//! answer is opened here as Apple would (aws-lc-rs ECDH, the KDF, AES-GCM)
//! and the MDES one as Mastercard would (RSA-OAEP SHA-512, AES-CBC), on the
//! server's real process over SQLite or PostgreSQL.

use aws_lc_rs::{aead, agreement, cipher, digest, rsa};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, CustomExtension, DnType, IsCa, KeyPair,
    KeyUsagePurpose, PKCS_ECDSA_P256_SHA256,
};
use reqwest::Method;
use serde_json::{json, Value};

use super::harness::*;

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("")
}

fn b64(bytes: &[u8]) -> String {
    paysecure_core::encoding::encode(bytes)
}

fn unb64(s: &str) -> Vec<u8> {
    paysecure_core::encoding::decode(s, "test")
        .unwrap()
        .to_vec()
}

/// A test Apple PKI: root, sub-CA, a leaf with the marker extension and
/// its private key (PKCS#8).
pub struct ApplePki {
    pub root_der: Vec<u8>,
    pub sub_der: Vec<u8>,
    pub leaf_der: Vec<u8>,
    pub leaf_pkcs8: Vec<u8>,
}

fn ca(cn: &str) -> CertificateParams {
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.distinguished_name.push(DnType::CommonName, cn);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign];
    p.not_before = time::OffsetDateTime::now_utc() - time::Duration::days(1);
    p.not_after = time::OffsetDateTime::now_utc() + time::Duration::days(30);
    p
}

impl ApplePki {
    pub fn new() -> ApplePki {
        let root = CertifiedIssuer::self_signed(
            ca("Test Apple Root CA"),
            KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap(),
        )
        .unwrap();
        let sub = CertifiedIssuer::signed_by(
            ca("Test Apple Sub CA"),
            KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap(),
            &root,
        )
        .unwrap();
        let mut p = ca("Test Apple Pay Leaf");
        p.is_ca = IsCa::ExplicitNoCa;
        p.key_usages = vec![KeyUsagePurpose::KeyAgreement];
        p.custom_extensions.push(CustomExtension::from_oid_content(
            &[1, 2, 840, 113635, 100, 6, 39],
            vec![0x05, 0x00],
        ));
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        let leaf = p.signed_by(&key, &sub).unwrap();
        ApplePki {
            root_der: root.der().to_vec(),
            sub_der: sub.der().to_vec(),
            leaf_der: leaf.der().to_vec(),
            leaf_pkcs8: key.serialize_der(),
        }
    }

    /// The request body of the Apple route.
    pub fn body(&self) -> Value {
        json!({
            "certificates": [b64(&self.leaf_der), b64(&self.sub_der)],
            "nonce": b64(&[1, 2, 3, 4]),
            "nonceSignature": b64(&[9; 64]),
        })
    }

    /// Opens an Apple answer with the leaf key (PartyVInfo: the ephemeral
    /// public key); the pass JSON.
    pub fn open(&self, answer: &Value) -> Value {
        let leaf =
            agreement::PrivateKey::from_private_key_der(&agreement::ECDH_P256, &self.leaf_pkcs8)
                .unwrap();
        let eph = unb64(answer["ephemeralPublicKey"].as_str().unwrap());
        let peer = agreement::UnparsedPublicKey::new(&agreement::ECDH_P256, &eph);
        let key = agreement::agree(&leaf, peer, (), |z| {
            let mut ctx = digest::Context::new(&digest::SHA256);
            ctx.update(&[0, 0, 0, 1]);
            ctx.update(z);
            ctx.update(b"\x0did-aes256-GCM");
            ctx.update(b"Apple");
            ctx.update(&eph);
            Ok(ctx.finish().as_ref().to_vec())
        })
        .unwrap();
        let key = aead::LessSafeKey::new(aead::UnboundKey::new(&aead::AES_256_GCM, &key).unwrap());
        let mut data = unb64(answer["encryptedPassData"].as_str().unwrap());
        let plain = key
            .open_in_place(
                aead::Nonce::assume_unique_for_key([0; 12]),
                aead::Aad::empty(),
                &mut data,
            )
            .unwrap();
        serde_json::from_slice(plain).unwrap()
    }
}

/// Mastercard's side: an RSA key pair; the public key (SPKI DER).
pub struct Mastercard {
    key: rsa::KeyPair,
}

impl Mastercard {
    pub fn new() -> Mastercard {
        Mastercard {
            key: rsa::KeyPair::generate(rsa::KeySize::Rsa2048).unwrap(),
        }
    }

    pub fn spki(&self) -> Vec<u8> {
        use aws_lc_rs::encoding::{AsDer, PublicKeyX509Der};
        use aws_lc_rs::signature::KeyPair as _;
        let der: PublicKeyX509Der<'static> = self.key.public_key().as_der().unwrap();
        der.as_ref().to_vec()
    }

    /// Opens `cardInfo` (RSA-OAEP SHA-512, AES-CBC, hex).
    pub fn open(&self, info: &Value) -> Value {
        use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
        let hex = |k: &str| hex::decode(info[k].as_str().unwrap()).unwrap();
        let der: Pkcs8V1Der<'static> = self.key.as_der().unwrap();
        let private = rsa::PrivateDecryptingKey::from_pkcs8(der.as_ref()).unwrap();
        let oaep = rsa::OaepPrivateDecryptingKey::new(private).unwrap();
        let mut out = vec![0u8; 256];
        let aes = oaep
            .decrypt(
                &rsa::OAEP_SHA512_MGF1SHA512,
                &hex("encryptedKey"),
                &mut out,
                None,
            )
            .unwrap()
            .to_vec();
        let key = cipher::PaddedBlockDecryptingKey::cbc_pkcs7(
            cipher::UnboundCipherKey::new(&cipher::AES_128, &aes).unwrap(),
        )
        .unwrap();
        let iv: [u8; 16] = hex("iv").try_into().unwrap();
        let mut data = hex("encryptedData");
        let plain = key
            .decrypt(&mut data, cipher::DecryptionContext::Iv128(iv.into()))
            .unwrap();
        serde_json::from_slice(plain).unwrap()
    }
}

/// Configures wallet provisioning for `tenant` through the CLI: the Apple
/// root, a TAV key, Mastercard's key.
pub fn configure(s: &Server, tenant: &str, pki: &ApplePki, mc: &Mastercard) {
    let root = s.dir.path().join(format!("{tenant}-root.der"));
    std::fs::write(&root, &pki.root_der).unwrap();
    s.cli(&[
        "tenant",
        "wallet-apple-roots",
        tenant,
        root.to_str().unwrap(),
    ]);
    s.cli(&["tenant", "wallet-tav-key", tenant]);
    let spki = s.dir.path().join(format!("{tenant}-mc.der"));
    std::fs::write(&spki, mc.spki()).unwrap();
    s.cli(&[
        "tenant",
        "wallet-mastercard-key",
        tenant,
        spki.to_str().unwrap(),
    ]);
}

/// The first tenant's id (the harness created it as "Attack Bank").
async fn first_tenant(s: &Server) -> String {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&s.db.url).await.unwrap();
    sqlx::query_scalar("SELECT id FROM tenants WHERE name = 'Attack Bank'")
        .fetch_one(&pool)
        .await
        .unwrap()
}

async fn digitize(
    s: &Server,
    token: &str,
    wallet: &str,
    auth: &str,
    body: Option<Value>,
) -> (u16, Value) {
    s.send(
        Method::POST,
        &format!("/v2/cards/{token}/digitization/{wallet}"),
        Some(auth),
        &[],
        body.or(Some(json!({}))).filter(|_| wallet == "apple"),
    )
    .await
}

/// The number of successful digitizations in the audit log.
fn issued(s: &Server) -> usize {
    s.log_text()
        .lines()
        .filter(|l| l.contains("wallet digitization") && l.contains("\"outcome\":\"issued\""))
        .count()
}

/// A PAN-only token of the first tenant (PAN to token).
async fn pan_only_token(s: &Server, pan: &str) -> String {
    let (session, sid) = s.session(paysecure_core::Version::V2);
    let (st, body) = s
        .send(
            Method::POST,
            "/v2/tokens",
            Some(&s.tenant_key),
            &[("session-id", &sid)],
            Some(json!({"pan": enc_text(&session, pan)})),
        )
        .await;
    assert_eq!(st, 200, "{body}");
    body["token"].as_str().unwrap().to_owned()
}

/// Authorization first: a credential without the `digitize` scope, or for
/// another card, or none, gets the same refusal whether the chain is
/// garbage or genuine (so nothing of the chain was read), and no
/// digitization is issued. A PAN-only token and an unconfigured tenant are
/// refused before the chain is read too (garbage does not change the
/// answer). Only then is the chain checked.
#[tokio::test]
async fn credentials_scope_card_and_configuration_are_checked_before_any_certificate_or_key_work() {
    let s = Server::start(&[]).await;
    let tenant = first_tenant(&s).await;
    let token = s.issue_card().await;
    let other = s.issue_card().await;
    // Two "certificates" that are no DER (base64 of three zero bytes).
    let garbage = json!({"certificates": ["AAAA", "AAAA"], "nonce": "AQIDBA==", "nonceSignature": "AQIDBA=="});

    // Unconfigured tenant: the configuration is checked before the body.
    for wallet in ["apple", "mdes"] {
        let (st, body) = digitize(&s, &token, wallet, &s.tenant_key, Some(garbage.clone())).await;
        assert_eq!(
            (st, code(&body)),
            (409, "WALLET_NOT_CONFIGURED"),
            "{wallet}"
        );
    }
    let pki = ApplePki::new();
    let mc = Mastercard::new();
    configure(&s, &tenant, &pki, &mc);

    let reveal = s.ephemeral(&token, &["reveal", "pan", "cvv2"]).await;
    let foreign = s.ephemeral(&other, &["digitize"]).await;
    for wallet in ["apple", "mdes"] {
        for body in [garbage.clone(), pki.body()] {
            for auth in [&reveal, &foreign] {
                let (st, b) = digitize(&s, &token, wallet, auth, Some(body.clone())).await;
                assert_eq!((st, code(&b)), (403, "FORBIDDEN"), "{wallet}");
            }
            let (st, b) = digitize(&s, &token, wallet, "pse_unknown", Some(body.clone())).await;
            assert_eq!((st, code(&b)), (401, "UNAUTHORIZED"), "{wallet}");
        }
    }
    // A PAN-only token: refused before the chain is read.
    let pan_only = pan_only_token(&s, "5105105105105100").await;
    for wallet in ["apple", "mdes"] {
        for body in [garbage.clone(), pki.body()] {
            let (st, b) = digitize(&s, &pan_only, wallet, &s.tenant_key, Some(body)).await;
            assert_eq!((st, code(&b)), (409, "CARD_NOT_ACTIVE"), "{wallet}");
        }
    }
    assert_eq!(issued(&s), 0, "nothing was issued");

    // Authorized: now the chain is read (and refused when garbage).
    let digitize_key = s.ephemeral(&token, &["digitize"]).await;
    let (st, b) = digitize(&s, &token, "apple", &digitize_key, Some(garbage)).await;
    assert_eq!((st, code(&b)), (400, "INVALID_CERTIFICATE_CHAIN"));
    let (st, b) = digitize(&s, &token, "apple", &digitize_key, Some(pki.body())).await;
    assert_eq!(st, 200, "{b}");
    let pan = s.pan_of(&token).await;
    assert_eq!(pki.open(&b)["primaryAccountNumber"], json!(pan));
    let (st, b) = digitize(&s, &token, "mdes", &digitize_key, None).await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(mc.open(&b["cardInfo"])["accountNumber"], json!(pan));
    assert_eq!(issued(&s), 2);
    assert_log_clean(&s, &[&pan, &reveal, &foreign, &digitize_key, &s.tenant_key]);
}

/// Both routes are card-data routes: the per-card rate limit (checked with
/// the credential, before the handler) refuses a burst on one card with
/// 429 and Retry-After, and leaves other cards alone.
#[tokio::test]
async fn digitization_is_rate_limited_per_card() {
    let s = Server::start(&["--card-rate", "1", "--card-burst", "3"]).await;
    let tenant = first_tenant(&s).await;
    let pki = ApplePki::new();
    let mc = Mastercard::new();
    configure(&s, &tenant, &pki, &mc);
    let token = s.issue_card().await;
    let other = s.issue_card().await;
    let mut statuses = Vec::new();
    for wallet in ["apple", "mdes", "apple", "mdes", "apple"] {
        let body = (wallet == "apple").then(|| pki.body());
        statuses.push(digitize(&s, &token, wallet, &s.tenant_key, body).await);
    }
    let limited: Vec<&(u16, Value)> = statuses.iter().filter(|(st, _)| *st == 429).collect();
    assert!(!limited.is_empty(), "{statuses:?}");
    assert!(limited.iter().all(|(_, b)| code(b) == "RATE_LIMITED"));
    assert!(
        statuses.iter().take(3).all(|(st, _)| *st == 200),
        "{statuses:?}"
    );
    let (st, b) = digitize(&s, &other, "mdes", &s.tenant_key, None).await;
    assert_eq!(st, 200, "another card is not limited: {b}");
}

/// An answer carries the card only encrypted; the TAV is bound to the PAN
/// and expiry; nothing of the card reaches the log, in any form.
#[tokio::test]
async fn digitization_answers_and_log_carry_no_card_data_in_clear() {
    let s = Server::start(&[]).await;
    let tenant = first_tenant(&s).await;
    let pki = ApplePki::new();
    let mc = Mastercard::new();
    configure(&s, &tenant, &pki, &mc);
    let token = s.issue_card().await;
    let pan = s.pan_of(&token).await;
    let (st, apple) = digitize(&s, &token, "apple", &s.tenant_key, Some(pki.body())).await;
    assert_eq!(st, 200, "{apple}");
    let (st, mdes) = digitize(&s, &token, "mdes", &s.tenant_key, None).await;
    assert_eq!(st, 200, "{mdes}");
    for answer in [&apple, &mdes] {
        assert!(!answer.to_string().contains(&pan));
    }
    let pass = pki.open(&apple);
    assert_eq!(pass["nonce"], json!("01020304"));
    assert_eq!(pass["nonceSignature"], json!("09".repeat(64)));
    let info = mc.open(&mdes["cardInfo"]);
    assert_eq!(info["accountNumber"], json!(pan));
    assert_eq!(
        info["dataValidUntilTimestamp"],
        mdes["dataValidUntilTimestamp"]
    );
    // The same TAV construction in both answers (fresh validity each time).
    for tav in [
        &apple["activationData"],
        &mdes["tokenizationAuthenticationValue"],
    ] {
        let tav: Value = serde_json::from_slice(&unb64(tav.as_str().unwrap())).unwrap();
        assert_eq!(tav["signatureAlgorithm"], json!("ECDSA-SHA256"));
        assert!(!tav.to_string().contains(&pan));
    }
    // The settings are sealed at rest: neither the root nor Mastercard's
    // key is in any stored value, and each row opens only as its own.
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&s.db.url).await.unwrap();
    let rows: Vec<(String, Vec<u8>)> =
        sqlx::query_as("SELECT name, value_sealed FROM wallet_settings WHERE tenant_id = $1")
            .bind(&tenant)
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(rows.len(), 3, "roots, TAV key, Mastercard key");
    let contains = |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).any(|w| w == needle);
    let spki = mc.spki();
    for (name, sealed) in &rows {
        assert!(!contains(sealed, &pki.root_der[..64]), "{name}");
        assert!(!contains(sealed, &spki[..64]), "{name}");
        assert!(!contains(sealed, b"-----BEGIN"), "{name}");
    }
    // A sealed value moved to another setting no longer opens.
    let tav = rows.iter().find(|(n, _)| n == "tav_key").unwrap().1.clone();
    sqlx::query("UPDATE wallet_settings SET value_sealed = $1 WHERE tenant_id = $2 AND name = 'apple_roots'")
        .bind(tav)
        .bind(&tenant)
        .execute(&pool)
        .await
        .unwrap();
    let (st, b) = digitize(&s, &token, "apple", &s.tenant_key, Some(pki.body())).await;
    assert_eq!((st, code(&b)), (500, "INTERNAL"), "{b}");
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let log = s.log_text();
    assert!(log.contains("wallet digitization"));
    let digits: String = log.chars().filter(char::is_ascii_digit).collect();
    assert!(!digits.contains(&pan), "the PAN's digits are in the log");
    let encrypted = apple["encryptedPassData"].as_str().unwrap();
    assert_log_clean(&s, &[&pan, encrypted, &s.tenant_key]);
}
