// Java JCE as an independent peer for seed 003's encrypted bodies, for
// tests/js/interop-body.test.mjs. JDK only (SunJCE): a body is hex of
// nonce || ciphertext || 16-byte tag, AES-GCM with the 26-byte ASCII nonce
// as the GCMParameterSpec IV and no AAD. Reads one operation per line on
// stdin, writes one result line per operation on stdout ("ERR <exception
// class>" on failure).
//
//   BODY_ENCRYPT <key-b64> <nonce-ascii> <plain-b64> -> body (lowercase hex)
//   BODY_DECRYPT <key-b64> <body-hex>                -> plaintext b64
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Base64;
import java.util.HexFormat;
import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;

public class BodyInterop {
  static final int NONCE_LEN = 26;
  static final Base64.Decoder D = Base64.getDecoder();
  static final Base64.Encoder E = Base64.getEncoder();
  static final HexFormat HEX = HexFormat.of();

  public static void main(String[] args) throws Exception {
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    String line;
    while ((line = in.readLine()) != null) {
      if (line.isBlank()) continue;
      String[] a = line.trim().split(" ");
      try {
        System.out.println(run(a));
      } catch (Exception e) {
        System.out.println("ERR " + e.getClass().getSimpleName());
      }
    }
  }

  static String run(String[] a) throws Exception {
    switch (a[0]) {
      case "BODY_ENCRYPT": {
        byte[] nonce = a[2].getBytes(StandardCharsets.US_ASCII);
        if (nonce.length != NONCE_LEN) throw new IllegalArgumentException("nonce length");
        Cipher c = gcm(Cipher.ENCRYPT_MODE, a[1], nonce);
        byte[] sealed = c.doFinal(D.decode(a[3]));
        byte[] out = new byte[NONCE_LEN + sealed.length];
        System.arraycopy(nonce, 0, out, 0, NONCE_LEN);
        System.arraycopy(sealed, 0, out, NONCE_LEN, sealed.length);
        return HEX.formatHex(out);
      }
      case "BODY_DECRYPT": {
        byte[] raw = HEX.parseHex(a[2]);
        if (raw.length < NONCE_LEN + 16) throw new IllegalArgumentException("too short");
        Cipher c = gcm(Cipher.DECRYPT_MODE, a[1], Arrays.copyOf(raw, NONCE_LEN));
        return E.encodeToString(c.doFinal(raw, NONCE_LEN, raw.length - NONCE_LEN));
      }
      default:
        throw new IllegalArgumentException(a[0]);
    }
  }

  static Cipher gcm(int mode, String key, byte[] nonce) throws Exception {
    Cipher c = Cipher.getInstance("AES/GCM/NoPadding");
    c.init(mode, new SecretKeySpec(D.decode(key), "AES"), new GCMParameterSpec(128, nonce));
    return c;
  }
}
