import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

export type { Browser, Page } from 'playwright-core';

/** Debian's chromium package; playwright-core drives it and downloads no browser of its own. */
export const CHROMIUM_PATH = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';

/** A headless Chromium; fails (never skips) when the browser is missing: .ci/run installs it. */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`no Chromium at ${CHROMIUM_PATH}: install Debian's chromium package (apt-get install -y chromium), as .ci/run does`);
  }
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: ['--headless', '--no-sandbox', '--disable-gpu'] });
}
