import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import bcrypt from 'bcryptjs';
import { LRUCache } from 'lru-cache';
import pLimit from 'p-limit';
import { ConfigError, type Config } from '../config.js';
import { RegistryError } from '../oci/errors.js';
import { H } from '../oci/headers.js';
import { osErrorText } from '../storage/os-error.js';
import { readHtpasswd } from './htpasswd.js';

export type AuthConfig = NonNullable<Config['auth']>;

/** Who a request authenticated as, for the request log: an htpasswd user, or `token:<hash prefix>`. */
export interface Identity {
  user: string;
}

type Verdict = { ok: true; identity: Identity } | { ok: false };

/** A docker pull sends dozens of requests with one header: check it once, then trust it this long. */
const ACCEPTED_TTL_MS = 60_000;
/** Wrong credentials are remembered too, so a client retrying them in a loop costs no bcrypt. */
const REFUSED_TTL_MS = 10_000;
/** bcrypt is slow by design: bound how many checks run at once, so a flood of guesses cannot starve serving. */
const BCRYPT_CONCURRENCY = 4;
/** Checked against when the user is unknown, so the time taken does not tell which users exist. */
const UNKNOWN_USER_HASH = '$2b$05$D610M420mu09PWZel/Sqi.gwbzE2kjFl7n40qA0toGGpk0kdeoXD2';

const sha256 = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();

/**
 * Client authentication for the mirror: `Authorization: Basic` for an htpasswd user (or with a
 * static token as the password, so `docker login -u any -p <token>` works), `Authorization: Bearer`
 * with a static token. Anything else is a 401 carrying `WWW-Authenticate: Basic realm=…`, the
 * challenge `docker login` and `podman login` answer. Verdicts are cached by a hash of the header:
 * memory never holds a password, and tokens are kept only as their sha256.
 */
export class ClientAuth {
  readonly challenge: string;
  /** Headers checked in full so far (not answered from the cache). */
  verifications = 0;
  private readonly verdicts: LRUCache<string, Verdict, string>;
  private readonly bcryptSlots = pLimit(BCRYPT_CONCURRENCY);

  private constructor(
    private readonly users: ReadonlyMap<string, string>,
    private readonly tokenHashes: readonly Buffer[],
    realm: string,
  ) {
    this.challenge = `Basic realm="${realm}"`;
    // fetchMethod coalesces: the parallel requests of one pull share one check.
    this.verdicts = new LRUCache<string, Verdict, string>({
      max: 10_000,
      ttl: ACCEPTED_TTL_MS,
      fetchMethod: async (_key, _stale, { options, context }) => {
        const verdict = await this.verify(context);
        options.ttl = verdict.ok ? ACCEPTED_TTL_MS : REFUSED_TTL_MS;
        return verdict;
      },
    });
  }

  /** Reads the htpasswd and token files; a missing or malformed one fails the start, naming its key. */
  static load(config: AuthConfig): ClientAuth {
    const users = config.htpasswd === undefined ? new Map<string, string>() : readHtpasswd(config.htpasswd);
    const tokens = [...config.tokens, ...(config.tokensFile === undefined ? [] : readTokens(config.tokensFile))];
    if (users.size === 0 && tokens.length === 0) throw new ConfigError('invalid config: auth: no users and no tokens, so every request would be refused');
    return new ClientAuth(users, tokens.map(sha256), config.realm);
  }

  /** Who sent `authorization`; throws 401 UNAUTHORIZED with the challenge when nobody valid did. */
  async authenticate(authorization: string | undefined): Promise<Identity> {
    if (!authorization) throw this.refusal('authentication required');
    const verdict = await this.verdicts.fetch(sha256(authorization).toString('hex'), { context: authorization });
    if (!verdict?.ok) throw this.refusal('invalid credentials');
    return verdict.identity;
  }

  private refusal(message: string): RegistryError {
    return new RegistryError('UNAUTHORIZED', message, { [H.wwwAuthenticate]: this.challenge });
  }

  private async verify(authorization: string): Promise<Verdict> {
    this.verifications += 1;
    const [scheme = '', credentials = '', extra] = authorization.trim().split(/\s+/);
    if (extra !== undefined || credentials === '') return { ok: false };
    if (scheme.toLowerCase() === 'bearer') return this.token(credentials);
    if (scheme.toLowerCase() !== 'basic') return { ok: false };
    const decoded = Buffer.from(credentials, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return { ok: false };
    const user = decoded.slice(0, colon);
    const password = decoded.slice(colon + 1);
    const byToken = this.token(password);
    if (byToken.ok) return byToken;
    const hash = this.users.get(user);
    const matches = await this.bcryptSlots(() => bcrypt.compare(password, hash ?? UNKNOWN_USER_HASH));
    return matches && hash !== undefined ? { ok: true, identity: { user } } : { ok: false };
  }

  /** Compares against every token in constant time; the log names a token by its hash's first 8 hex digits. */
  private token(candidate: string): Verdict {
    const hash = sha256(candidate);
    let found: Buffer | undefined;
    for (const known of this.tokenHashes) if (timingSafeEqual(hash, known)) found = known;
    return found ? { ok: true, identity: { user: `token:${found.toString('hex').slice(0, 8)}` } } : { ok: false };
  }
}

/** One token per line; blank lines and `#` comments are skipped. */
function readTokens(path: string): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`invalid config: auth.tokensFile: ${osErrorText(err)}`);
  }
  const tokens: string[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    if (line.length < 16 || /\s/.test(line))
      throw new ConfigError(`invalid config: auth.tokensFile: ${path} line ${i + 1}: a token must be at least 16 characters, without spaces`);
    tokens.push(line);
  });
  return tokens;
}
