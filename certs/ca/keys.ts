/** Key pairs for the CA and for staff, and private keys encrypted at rest (PKCS#8, PBES2). */
import { createPrivateKey, generateKeyPair, webcrypto, type KeyObject } from "node:crypto";
import { promisify } from "node:util";
import { CaError } from "./errors.js";

export type KeyAlgorithm = "rsa-2048" | "rsa-3072" | "ec-p256" | "ec-p384";

const generate = promisify(generateKeyPair);

/** Minimum passphrase length for keys at rest. */
export const MIN_PASSPHRASE = 12;

export async function newKeyPair(
  alg: KeyAlgorithm,
): Promise<{ publicKey: KeyObject; privateKey: KeyObject }> {
  if (alg === "rsa-2048" || alg === "rsa-3072") {
    return generate("rsa", { modulusLength: alg === "rsa-2048" ? 2048 : 3072 });
  }
  return generate("ec", { namedCurve: alg === "ec-p256" ? "prime256v1" : "secp384r1" });
}

/**
 * The private key as encrypted PKCS#8 PEM (PBES2, PBKDF2-HMAC-SHA256, AES-256-CBC), which
 * OpenSSL, GnuPG and Node read back with the passphrase.
 */
export function encryptPrivateKey(key: KeyObject, passphrase: string): string {
  if (passphrase.length < MIN_PASSPHRASE) {
    throw new CaError(
      "ca_weak_passphrase",
      `a key passphrase needs at least ${MIN_PASSPHRASE} characters`,
    );
  }
  return key.export({ type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase }) as string;
}

/** Reads a PEM private key, encrypted (with the passphrase) or not. */
export function readPrivateKey(pem: string, passphrase?: string): KeyObject {
  try {
    return createPrivateKey({ key: pem, format: "pem", passphrase: passphrase ?? "" });
  } catch (err) {
    throw new CaError("ca_bad_key", "the private key cannot be read (wrong passphrase?)", {
      cause: err,
    });
  }
}

/** The key as a WebCrypto signing key, for @peculiar/x509. */
export async function signingKey(key: KeyObject): Promise<webcrypto.CryptoKey> {
  const pkcs8 = key.export({ type: "pkcs8", format: "der" });
  if (key.asymmetricKeyType === "rsa") {
    return webcrypto.subtle.importKey(
      "pkcs8",
      pkcs8,
      { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" },
      false,
      ["sign"],
    );
  }
  const curve = key.asymmetricKeyDetails?.namedCurve === "secp384r1" ? "P-384" : "P-256";
  return webcrypto.subtle.importKey("pkcs8", pkcs8, { name: "ECDSA", namedCurve: curve }, false, [
    "sign",
  ]);
}

/** The signature algorithm @peculiar/x509 signs with for this key. */
export function signingAlgorithm(key: KeyObject): { name: string; hash: string } {
  if (key.asymmetricKeyType === "rsa") return { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
  const p384 = key.asymmetricKeyDetails?.namedCurve === "secp384r1";
  return { name: "ECDSA", hash: p384 ? "SHA-384" : "SHA-256" };
}
