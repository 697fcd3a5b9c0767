import { mkdirSync } from "node:fs";
import path from "node:path";
import { chromium, type Browser, type BrowserContext } from "playwright-core";
import type { Test } from "tap";
import { repoRoot } from "./gateway.js";
import { hasTool, requireTools } from "./tools.js";

/**
 * Debian's Chromium, headless, driven by playwright-core (no browser download). The flags keep
 * it from reaching out to the network this machine does not have.
 */

const CHROMIUM = process.env.SEALGATE_CHROMIUM ?? "/usr/bin/chromium";

export function requireBrowser(t: Test): boolean {
  return hasTool(CHROMIUM) || requireTools(t, "chromium");
}

/** A headless browser with a fresh profile of its own (Playwright makes and removes it). */
export async function launchBrowser(t: Test): Promise<Browser> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  t.teardown(() => browser.close());
  return browser;
}

/** Sizes the screenshots are taken at: a phone and a desktop. */
export const VIEWPORTS = {
  phone: { width: 390, height: 844 },
  desktop: { width: 1280, height: 900 },
} as const;

/** Where screenshots go: kept after the run for a reviewer, never committed (.gitignore). */
export const SCREENSHOT_DIR = path.join(repoRoot, "test-artifacts", "portal");

export async function newContext(
  browser: Browser,
  viewport: { width: number; height: number } = VIEWPORTS.desktop,
): Promise<BrowserContext> {
  return browser.newContext({ viewport, acceptDownloads: true });
}

/** Saves a full-page screenshot of every open page in the context under `name-<size>.png`. */
export async function screenshot(context: BrowserContext, name: string, size: string) {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const [page] = context.pages();
  if (!page) return;
  await page.screenshot({ path: path.join(SCREENSHOT_DIR, `${name}-${size}.png`), fullPage: true });
}
