// A PaySecure client on Java JCE + java.net.http only, following seed 000's
// Java flow, for tests/js/server-e2e.test.mjs.
//
//   java PaySecureClient <baseUrl> <bearer> <token> <V1|V2> <newPin>
//
// Fetches the public key, makes a session per call (KeyGenerator AES-256,
// base64, RSA "RSA" = PKCS#1 v1.5 for V1 or OAEP-SHA1 for V2), then:
// Get PAN, Get CVV2, Set PIN (ISO 9564 format 2), Get PIN, Verify PIN.
// Prints "pan=<..>", "cvv2=<..>", "pin=<..>", "verified=<..>" lines.
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.KeyFactory;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.spec.X509EncodedKeySpec;
import java.util.Base64;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.crypto.Cipher;
import javax.crypto.KeyGenerator;
import javax.crypto.SecretKey;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.IvParameterSpec;

public class PaySecureClient {
  static final HttpClient HTTP = HttpClient.newHttpClient();
  static String base, bearer, version;
  static PublicKey rsa;

  public static void main(String[] a) throws Exception {
    base = a[0];
    bearer = a[1];
    String token = a[2];
    version = a[3];
    String newPin = a[4];
    String v = version.toLowerCase();

    // V1 session ids are made for the V1 key pair (its own key: /v1/public-key).
    String pk = send("GET", "/" + v + "/public-key", null, null);
    String pem = field(pk, "publicKey").replace("\\n", "").replaceAll("-----[A-Z ]+-----", "");
    rsa = KeyFactory.getInstance("RSA").generatePublic(new X509EncodedKeySpec(Base64.getDecoder().decode(pem)));

    SecretKey k = sessionKey();
    String pan = decrypt(k, object(send("POST", "/" + v + "/cards/" + token + "/pan", k, null), "pan"));
    System.out.println("pan=" + pan);

    k = sessionKey();
    String cvv2 = decrypt(k, object(send("POST", "/" + v + "/cards/" + token + "/cvv2", k, null), "cvv2"));
    System.out.println("cvv2=" + cvv2);

    // Set PIN: "2" + length + digits + F fill, 16 ASCII characters.
    String block = ("2" + Integer.toHexString(newPin.length()).toUpperCase() + newPin + "FFFFFFFFFFFFFF").substring(0, 16);
    k = sessionKey();
    send("PUT", "/" + v + "/cards/" + token + "/pin", k, "{\"pinBlock\":" + encrypt(k, block) + "}");

    k = sessionKey();
    String got = decrypt(k, object(send("POST", "/" + v + "/cards/" + token + "/pin", k, null), "pinBlock"));
    int len = Integer.parseInt(got.substring(1, 2), 16);
    System.out.println("pin=" + got.substring(2, 2 + len));

    k = sessionKey();
    String verify = send("POST", "/" + v + "/cards/" + token + "/pin/verify", k, "{\"pinBlock\":" + encrypt(k, block) + "}");
    System.out.println("verified=" + verify.contains("\"verified\":true"));
  }

  static String currentId;

  static SecretKey sessionKey() throws Exception {
    KeyGenerator kg = KeyGenerator.getInstance("AES");
    kg.init(256);
    SecretKey key = kg.generateKey();
    String sessionKey = Base64.getEncoder().encodeToString(key.getEncoded());
    Cipher c = Cipher.getInstance(version.equals("V1") ? "RSA" : "RSA/ECB/OAEPWithSHA-1AndMGF1Padding");
    c.init(Cipher.ENCRYPT_MODE, rsa);
    currentId = Base64.getEncoder().encodeToString(c.doFinal(sessionKey.getBytes(StandardCharsets.UTF_8)));
    return key;
  }

  static Cipher aes(int mode, SecretKey key, byte[] iv) throws Exception {
    Cipher c;
    if (version.equals("V1")) {
      c = Cipher.getInstance("AES/CBC/PKCS5Padding");
      c.init(mode, key, new IvParameterSpec(iv));
    } else {
      c = Cipher.getInstance("AES/GCM/NoPadding");
      c.init(mode, key, new GCMParameterSpec(128, iv));
    }
    return c;
  }

  static String encrypt(SecretKey key, String text) throws Exception {
    byte[] iv = new byte[16];
    new SecureRandom().nextBytes(iv);
    byte[] ct = aes(Cipher.ENCRYPT_MODE, key, iv).doFinal(text.getBytes(StandardCharsets.UTF_8));
    return "{\"data\":\"" + Base64.getEncoder().encodeToString(ct) + "\",\"iv\":\"" + Base64.getEncoder().encodeToString(iv) + "\"}";
  }

  static String decrypt(SecretKey key, String value) throws Exception {
    byte[] iv = Base64.getDecoder().decode(field(value, "iv"));
    byte[] data = Base64.getDecoder().decode(field(value, "data"));
    return new String(aes(Cipher.DECRYPT_MODE, key, iv).doFinal(data), StandardCharsets.UTF_8);
  }

  static String send(String method, String path, SecretKey session, String body) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path)).header("Authorization", "Bearer " + bearer);
    if (session != null) b.header("Session-Id", currentId);
    if (body != null) b.header("Content-Type", "application/json");
    b.method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
    HttpResponse<String> r = HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
    if (r.statusCode() / 100 != 2) throw new RuntimeException(method + " " + path + " -> " + r.statusCode() + " " + r.body());
    return r.body();
  }

  static String field(String json, String name) {
    Matcher m = Pattern.compile("\"" + name + "\"\\s*:\\s*\"([^\"]*)\"").matcher(json);
    if (!m.find()) throw new RuntimeException("no " + name + " in " + json);
    return m.group(1);
  }

  static String object(String json, String name) {
    Matcher m = Pattern.compile("\"" + name + "\"\\s*:\\s*(\\{[^}]*\\})").matcher(json);
    if (!m.find()) throw new RuntimeException("no " + name + " in response");
    return m.group(1);
  }
}
