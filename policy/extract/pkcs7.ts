import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { ExtractError } from "./context.js";

/**
 * The content of an opaque S/MIME signed message (RFC 8551 section 3.5.2, application/pkcs7-mime
 * with smime-type=signed-data): the signed MIME entity travels inside the CMS SignedData, in
 * clear, so it is read; checking the signature is no business of extraction. Enveloped data
 * (encrypted) cannot be read and says so.
 */

const SIGNED_DATA = "1.2.840.113549.1.7.2";

export function signedContent(der: Buffer): Buffer {
  let info: pkijs.ContentInfo;
  try {
    info = pkijs.ContentInfo.fromBER(der);
  } catch (err) {
    throw new ExtractError("corrupt", { cause: err });
  }
  if (info.contentType !== SIGNED_DATA) throw new ExtractError("encrypted");

  let signed: pkijs.SignedData;
  try {
    signed = new pkijs.SignedData({ schema: info.content });
  } catch (err) {
    throw new ExtractError("corrupt", { cause: err });
  }
  const content = signed.encapContentInfo.eContent;
  if (!content) throw new ExtractError("unsupported");
  return Buffer.from(octets(content));
}

/** An OCTET STRING's bytes, joined when BER splits it into constructed pieces. */
function octets(value: asn1js.OctetString): Uint8Array {
  if (!value.idBlock.isConstructed) return value.valueBlock.valueHexView;
  const pieces = (value.valueBlock.value as asn1js.OctetString[]).map(octets);
  return Buffer.concat(pieces);
}
