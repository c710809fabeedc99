import { readFileSync } from 'node:fs';

/** The package version, from package.json beside src/ and dist/. */
export const VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** Sent upstream so registry operators can tell a mirror's traffic from a client's. */
export const USER_AGENT = `pullthrough/${VERSION}`;
