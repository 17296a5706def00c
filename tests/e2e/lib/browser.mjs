// browser.mjs -- a real browser for the portal's tests: Debian's Chromium
// (/usr/bin/chromium, package chromium), headless, driven by Playwright
// (npm playwright-core: the driver only; Playwright's own browser download
// is not used). The flags keep Chromium off the network (no component
// updates, sync or background fetches: this machine's closed network
// refuses them), and every launch gets a new, empty profile.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.COFFER_CHROMIUM || '/usr/bin/chromium';

export async function launchBrowser() {
  const profile = mkdtempSync(join(tmpdir(), 'coffer-chromium-'));
  // launchPersistentContext is how an explicit --user-data-dir is given.
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 900 },
  });
  context.setDefaultTimeout(15000);
  return {
    context,
    async newPage() { return context.newPage(); },
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
