import { readFileSync } from 'node:fs';
import { ConfigError } from '../config.js';
import { osErrorText } from '../storage/os-error.js';

/** bcrypt as htpasswd -B (`$2y$`), OpenBSD (`$2b$`) and older tools (`$2a$`) write it. */
const BCRYPT = /^\$2[aby]\$\d{2}\$[./A-Za-z0-9]{53}$/;

/**
 * Reads an htpasswd file into user → bcrypt hash. Only bcrypt entries are accepted: the other
 * htpasswd formats (MD5 `$apr1$`, SHA-1, crypt) are fast to brute-force. Any bad line fails the
 * start, naming the file and line (never the hash).
 */
export function readHtpasswd(path: string, key = 'auth.htpasswd'): Map<string, string> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`invalid config: ${key}: ${osErrorText(err)}`);
  }
  const users = new Map<string, string>();
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const colon = line.indexOf(':');
    const user = colon > 0 ? line.slice(0, colon) : '';
    const where = `invalid config: ${key}: ${path} line ${i + 1}`;
    if (!user) throw new ConfigError(`${where}: expected user:hash`);
    if (!BCRYPT.test(line.slice(colon + 1)))
      throw new ConfigError(`${where}: user ${JSON.stringify(user)} has no bcrypt hash (create entries with htpasswd -B)`);
    if (users.has(user)) throw new ConfigError(`${where}: user ${JSON.stringify(user)} appears twice`);
    users.set(user, line.slice(colon + 1));
  });
  return users;
}
