import { createPrivateKey } from "node:crypto";
import { dkimSign } from "mailauth/lib/dkim/sign.js";
import { DeliveryError } from "./errors.js";

export interface DkimKey {
  domain: string;
  selector: string;
  /** PEM private key, RSA or Ed25519. */
  privateKey: string;
}

/**
 * Signs the prepared bytes and returns them with the DKIM-Signature field on top. Signing
 * comes after every other change, so the signature covers exactly what leaves (RFC 6376 §5).
 */
export async function signDkim(bytes: Buffer, key: DkimKey): Promise<Buffer> {
  const algorithm = isEd25519(key.privateKey) ? "ed25519-sha256" : "rsa-sha256";
  const entry = {
    signingDomain: key.domain,
    selector: key.selector,
    privateKey: key.privateKey,
    algorithm,
    canonicalization: "relaxed/relaxed",
  };
  let result;
  try {
    result = await dkimSign(bytes, { ...entry, signatureData: [entry] });
  } catch (err) {
    throw new DeliveryError("DKIM_FAILED", "DKIM signing failed", { cause: err });
  }
  if (result.errors.length > 0 || !result.signatures.trim()) {
    throw new DeliveryError("DKIM_FAILED", "DKIM signing failed", { cause: result.errors[0] });
  }
  return Buffer.concat([Buffer.from(result.signatures, "latin1"), bytes]);
}

function isEd25519(pem: string): boolean {
  try {
    return createPrivateKey(pem).asymmetricKeyType === "ed25519";
  } catch {
    return false;
  }
}
