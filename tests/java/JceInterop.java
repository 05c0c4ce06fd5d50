// Java JCE as an independent PaySecure peer, for tests/js/interop-java.test.mjs.
// JDK only (no BouncyCastle): the SunJCE provider does everything the
// protocol needs. Reads one operation per line on stdin, writes one result
// line per operation on stdout ("ERR <exception class>" on failure).
//
//   OAEP_DECRYPT  <pkcs8-b64> <ciphertext-b64>   -> plaintext as UTF-8 text
//   PKCS1_DECRYPT <pkcs8-b64> <ciphertext-b64>   -> plaintext as UTF-8 text
//   GCM_ENCRYPT   <key-b64> <iv-b64> <plain-b64> -> ciphertext||tag b64
//   GCM_DECRYPT   <key-b64> <iv-b64> <ct-b64>    -> plaintext b64
//   CBC_ENCRYPT   <key-b64> <iv-b64> <plain-b64> -> ciphertext b64
//   CBC_DECRYPT   <key-b64> <iv-b64> <ct-b64>    -> plaintext b64
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.Base64;
import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.IvParameterSpec;
import javax.crypto.spec.SecretKeySpec;

public class JceInterop {
  static final Base64.Decoder D = Base64.getDecoder();
  static final Base64.Encoder E = Base64.getEncoder();

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
      case "OAEP_DECRYPT":
        return rsaDecrypt("RSA/ECB/OAEPWithSHA-1AndMGF1Padding", a[1], a[2]);
      case "PKCS1_DECRYPT":
        return rsaDecrypt("RSA/ECB/PKCS1Padding", a[1], a[2]);
      case "GCM_ENCRYPT":
        return aes("AES/GCM/NoPadding", Cipher.ENCRYPT_MODE, a[1], a[2], a[3]);
      case "GCM_DECRYPT":
        return aes("AES/GCM/NoPadding", Cipher.DECRYPT_MODE, a[1], a[2], a[3]);
      case "CBC_ENCRYPT":
        return aes("AES/CBC/PKCS5Padding", Cipher.ENCRYPT_MODE, a[1], a[2], a[3]);
      case "CBC_DECRYPT":
        return aes("AES/CBC/PKCS5Padding", Cipher.DECRYPT_MODE, a[1], a[2], a[3]);
      default:
        throw new IllegalArgumentException(a[0]);
    }
  }

  static String rsaDecrypt(String transformation, String pkcs8, String ct) throws Exception {
    PrivateKey key = KeyFactory.getInstance("RSA").generatePrivate(new PKCS8EncodedKeySpec(D.decode(pkcs8)));
    Cipher c = Cipher.getInstance(transformation);
    c.init(Cipher.DECRYPT_MODE, key);
    return new String(c.doFinal(D.decode(ct)), StandardCharsets.UTF_8);
  }

  static String aes(String transformation, int mode, String key, String iv, String data) throws Exception {
    Cipher c = Cipher.getInstance(transformation);
    SecretKeySpec k = new SecretKeySpec(D.decode(key), "AES");
    if (transformation.contains("GCM")) {
      c.init(mode, k, new GCMParameterSpec(128, D.decode(iv)));
    } else {
      c.init(mode, k, new IvParameterSpec(D.decode(iv)));
    }
    return E.encodeToString(c.doFinal(D.decode(data)));
  }
}
