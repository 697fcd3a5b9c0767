import { randomBytes } from "node:crypto";
import { mkdir, open, rename, rm } from "node:fs/promises";
import path from "node:path";
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from "../data-dir.js";
import { DeliveryError } from "./errors.js";

/**
 * The embedded default's "next hop": one .eml per delivered copy, named
 * `<queueId>-<deliveryId>.eml`. Written to a temporary name, synced, then renamed, so a
 * reader never sees half a message and a retry simply replaces the file.
 */
export async function writeOutbox(
  dir: string,
  name: { queueId: string; deliveryId: number },
  bytes: Buffer,
): Promise<string> {
  const final = path.join(dir, `${name.queueId}-${name.deliveryId}.eml`);
  const temp = path.join(
    dir,
    `.${name.queueId}-${name.deliveryId}.${randomBytes(4).toString("hex")}.tmp`,
  );
  try {
    // Delivered copies are the message itself: only the gateway's user may read them.
    await mkdir(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
    const file = await open(temp, "wx", PRIVATE_FILE_MODE);
    try {
      await file.writeFile(bytes);
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(temp, final);
    return final;
  } catch (err) {
    await rm(temp, { force: true });
    throw new DeliveryError("OUTBOX_WRITE", `cannot write to the outbox folder ${dir}`, {
      cause: err,
    });
  }
}
