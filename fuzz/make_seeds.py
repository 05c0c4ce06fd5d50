#!/usr/bin/env python3
"""Writes the committed seed corpus fuzz/corpus/<target>/ from real, valid
inputs: the shared test vectors (session ids, encrypted values, PIN blocks),
the seed documents' example requests (Get CVV2 envelope, Paythru forms signed
with the Paythru document's shaKey, account API bodies), and JWEs made as paysecure-wasm
`encryptCard` makes them. Deterministic except for the RSA/GCM randomness of
the JWE and body seeds. Needs the `cryptography` package:

    python3 -m venv /tmp/v && /tmp/v/bin/pip install cryptography
    /tmp/v/bin/python fuzz/make_seeds.py
"""
import base64, hashlib, json, os, pathlib, shutil
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
CORPUS = HERE / "corpus"
VECTORS = json.loads((ROOT / "tests/data/paysecure-v1-v2.json").read_text())
KEY_A = bytes.fromhex("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4")
CEK = b"paysecure-fuzz-jwe-content-key!!"
SHA_KEY = "ds45k324l3k423k233"


def write(target, name, data):
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    (d / name).write_bytes(data)


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


shutil.rmtree(CORPUS, ignore_errors=True)

# ---- session_id: real session ids (V1 and V2), one MIME-wrapped, and the
# RSA plaintext of one (the key's base64 text).
for s in VECTORS["session_ids"][:4]:
    write("session_id", s["id"], s["session_id_b64"])
sid = VECTORS["session_ids"][0]["session_id_b64"]
write("session_id", "mime-wrapped", "\r\n".join(sid[i:i + 76] for i in range(0, len(sid), 76)))
write("session_id", "key-plaintext", VECTORS["session_ids"][0]["session_key_b64"])

# ---- encrypted_value: mode byte = version (0 V1, 1 V2, 2 V3) + 3 * kind
# (0 decrypt "data|iv", 2 PIN block "block|pan", 3 round trip).
for i, c in enumerate(VECTORS["pin_blocks"][:3]):
    iv = base64.b64encode(bytes.fromhex(c["iv_hex"])).decode()
    write("encrypted_value", f"v2-pin-{i}", bytes([1]) + f'{c["aes_gcm_ct_tag_b64"]}|{iv}'.encode())
    write("encrypted_value", f"v1-pin-{i}", bytes([0]) + f'{c["aes_cbc_ct_b64"]}|{iv}'.encode())
c = VECTORS["aes_cases"][0]
write("encrypted_value", "v3-aes", bytes([2]) + f'{c["aes_gcm_ct_tag_b64"]}|{c["iv_b64"]}'.encode())
write("encrypted_value", "pin-block-iso2", bytes([6]) + b"241432FFFFFFFFFF")
write("encrypted_value", "pin-block-iso0", bytes([6]) + b"041225EEEEEEEEEE|4111111111111111")
write("encrypted_value", "round-trip", bytes([10]) + b"4111111111111111")

# ---- json_bodies: selector byte (see the target) + a body the API accepts.
enc = {"data": VECTORS["pin_blocks"][0]["aes_gcm_ct_tag_b64"], "iv": "8PHy8/T19vf4+fr7/P3+/w=="}
jwe_placeholder = "eyJhbGciOiJSU0EtT0FFUC0yNTYiLCJlbmMiOiJBMjU2R0NNIiwia2lkIjoicnNhLWZ1enoifQ.AAAA.AAAAAAAAAAAAAAAA.AAAA.AAAAAAAAAAAAAAAAAAAAAA"
bodies = [
    {"pinBlock": enc},
    {"pan": enc, "pinBlock": enc},
    {"cvv2": enc},
    {"pan": enc, "cvv2": enc},
    {"pan": enc},
    {"accountId": "acc-1", "customerId": "cus-1", "customerRef": "ref", "bin": "411111", "cardholderName": "JOHN DOE", "exid": "EX-0001"},
    {"token": "tok_0123456789abcdef", "scopes": ["pan", "cvv2", "pin:read", "pin:write", "pin:verify", "cvv2:verify", "reveal"], "ttlSeconds": 300},
    {"sessionKey": "Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAb7dEf0h", "encryptedCard": jwe_placeholder},
    {"token_scope": "0e48425a-f1bc-431a-b7d8-f866de8ba276", "encrypted_card": jwe_placeholder, "card_brand": "VISA", "token_type": "REUSE", "reuse_token_type": "INTERNAL", "token_expiry_date": "2099-12-31", "public_key_alias": "rsa-fuzz"},
    {"cvv": "123", "card_holder_name": "John Doe", "card_holder_email": "john@example.com", "expiry_month": 12, "expiry_year": 2099, "scheme_token_action": "CREATE"},
    {"orderId": "4e260748-60d6-4985-80da-bfdf481bffdf", "udid": "2083718938012321038243",
     "billingInfo": {"firstName": "John", "lastName": "Doe", "dateOfBirth": "19870704", "phoneNumber": "1234567890", "emailAddress": "abc@xyz.com",
                     "addressInfo": {"street": "18th Floore Prtlan House", "street2": "Bressenden Place", "city": "Victoria", "state": "London", "postalCode": "SW1E 5RS", "countryCode": "GB"}},
     "paymentInfo": {"paymentType": "CreditCard", "isDefault": True, "card": {"cardNum": "4111111111111111", "cardExpYear": "2099", "cardExpMonth": "08", "cardHolder": "John Doe", "cardNickName": "Card1", "cardCvvToken": "1000000000000016"}},
     "accessCountryCode": "GB", "ipAddress": "127.0.0.1"},
]
for i, b in enumerate(bodies):
    write("json_bodies", f"type-{i:02}", bytes([i]) + json.dumps(b).encode())
write("json_bodies", "type-11-query", bytes([11]) + b"accountId=acc-1&customerId=cus-1&customerRef=r&token=tok_1")
write("json_bodies", "type-12-query-json", bytes([12]) + b'{"accountId":"acc-1","token":"tok_1"}')

# ---- ni_envelope: the Get CVV2 document's example request.
header = {"msg_id": "223001", "msg_type": "TRANSACTION", "msg_function": "REQ_GET_CVV2", "src_application": "IVR",
          "target_application": "WAY4", "timestamp": "2020-07-20T10:49:02.366+04:00", "tracking_id": "223001", "bank_id": "NIC"}
for name, (ident, kind) in {"contract": ("4545451234561234", "CONTRACT_NUMBER"), "exid": ("EX-0001", "EXID")}.items():
    body = {"card_identifier_id": ident, "card_identifier_type": kind, "expiry_date": "2701"}
    write("ni_envelope", name, json.dumps({"NISrvRequest": {"request_get_cvv2": {"header": header, "body": body}}}))


# ---- paythru_form: the Paythru document's examples, signed with its shaKey (§2.5).
def signed(params):
    pairs = sorted((k, v) for k, v in params if k != "shaSignature" and v)
    sig = hashlib.sha512("".join(f"{k}={v}{SHA_KEY}" for k, v in pairs).encode()).hexdigest()
    from urllib.parse import urlencode
    return urlencode(params + [("shaSignature", sig)])


creds = [("apiKey", "qyc2o6hvYyGFcGEL3K"), ("apiPassword", "83M3hWArBIsduSMGVa")]
card_key = ("cardKey", "6bede8cf-7f8b-a5dc-e1b7-5d4cc3618fff")
write("paythru_form", "lookup", signed(creds + [card_key, ("merchantCustomerReference", "")]))
write("paythru_form", "update", signed(creds + [card_key, ("cardholderAddressLine1", "10 Downing Street"),
                                                ("cardholderAdressTown", "London"), ("cardholderAddressPostcode", "SW1A 2AA"),
                                                ("cardholderAddressCountry", "UK"), ("cardExpiryMonth", "12"), ("cardExpiryYear", "2099")]))
write("paythru_form", "create", signed(creds + [("cardNumber", "4111111111111111"), ("cardExpiry", "1299"),
                                                ("merchantCustomerReference", "cust-1"), ("customerFirstName", "John")]))
write("paythru_form", "tokenise", signed(creds + [("sessionKey", "Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAb7dEf0h")]))


# ---- account_body: mode 0 + hex body; mode 2 + form with data=; mode 1 +
# plaintext (the seal/open round trip).
def seal_body(plain, stamp="20260101000000", rnd="3bc860332186"):
    nonce = (stamp + rnd).encode()
    return (nonce + AESGCM(KEY_A).encrypt(nonce, plain, None)).hex()


write("account_body", "path-id", b"\x00" + seal_body(b"4e260748-60d6-4985-80da-bfdf481bffdf").encode())
write("account_body", "form-data", b"\x02" + b"data=" + seal_body(json.dumps(bodies[10]).encode(), rnd="5fb564ca2148").encode())
write("account_body", "round-trip", b"\x01" + b"\x00\x9b\x6a\x69\x00" + json.dumps(bodies[10]).encode())

# ---- jwe_capture: mode 0 + JWE (content key CEK, wrapped for the vectors'
# RSA key), mode 2 + the same checked against its alias, mode 1 + card JSON.
pub = serialization.load_pem_public_key(VECTORS["rsa"]["public_spki_pem"].encode())
card = {"cardNumber": "4111111111111111", "expiryMonth": "12", "expiryYear": "2099", "cvv": "123",
        "cardholderName": "JOHN DOE", "captureTime": "2026-01-01T00:00:00Z"}
protected = b64u(json.dumps({"alg": "RSA-OAEP-256", "enc": "A256GCM", "kid": "rsa-fuzz"}, separators=(",", ":")).encode())
wrapped = pub.encrypt(CEK, padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None))
iv = bytes(range(12))
sealed = AESGCM(CEK).encrypt(iv, json.dumps(card).encode(), protected.encode())
jwe = ".".join([protected, b64u(wrapped), b64u(iv), b64u(sealed[:-16]), b64u(sealed[-16:])])
write("jwe_capture", "capture", b"\x00" + jwe.encode())
write("jwe_capture", "capture-alias", b"\x02" + jwe.encode())
write("jwe_capture", "card-json", b"\x01" + json.dumps(card).encode())
print("seeds:", sum(1 for _ in CORPUS.rglob("*") if _.is_file()), "files in", CORPUS)
