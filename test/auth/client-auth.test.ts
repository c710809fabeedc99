import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { ClientAuth, type AuthConfig } from '../../src/auth/client-auth.js';
import { ConfigError, configSchema } from '../../src/config.js';
import { RegistryError } from '../../src/oci/errors.js';

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
const TOKEN = 'static-token-0123456789abcdef';

async function file(text: string): Promise<string> {
  const path = join(await mkdtemp(join(tmpdir(), 'pt-auth-')), 'f');
  await writeFile(path, text);
  return path;
}

const authConfig = (auth: Record<string, unknown>): AuthConfig => configSchema.parse({ auth }).auth!;

async function refusal(auth: ClientAuth, header: string | undefined): Promise<RegistryError> {
  const err = await auth.authenticate(header).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(RegistryError);
  return err as RegistryError;
}

describe('ClientAuth', () => {
  let auth: ClientAuth;
  beforeAll(async () => {
    // Cost 4 keeps the test fast; htpasswd -B writes $2y$, which must work as $2b$ does.
    const htpasswd = await file(
      ['# users', `alice:${bcrypt.hashSync('wonderland', 4)}`, `bob:${bcrypt.hashSync('builder', 4).replace(/^\$2b\$/, '$2y$')}`, ''].join('\n'),
    );
    auth = ClientAuth.load(authConfig({ htpasswd, tokens: [TOKEN] }));
  });

  test('htpasswd users with bcrypt ($2b$ and $2y$), static bearer tokens, and a token as a Basic password', async () => {
    expect(await auth.authenticate(basic('alice', 'wonderland'))).toEqual({ user: 'alice' });
    expect(await auth.authenticate(basic('bob', 'builder'))).toEqual({ user: 'bob' });
    expect((await auth.authenticate(`Bearer ${TOKEN}`)).user).toMatch(/^token:[0-9a-f]{8}$/);
    expect((await auth.authenticate(`bearer   ${TOKEN}`)).user).toMatch(/^token:/);
    expect((await auth.authenticate(basic('anyone', TOKEN))).user).toMatch(/^token:/);
  });

  test.each([
    ['no header', undefined, 'authentication required'],
    ['a wrong password', basic('alice', 'wrong'), 'invalid credentials'],
    ['an unknown user', basic('mallory', 'wonderland'), 'invalid credentials'],
    ['a wrong token', `Bearer ${TOKEN}x`, 'invalid credentials'],
    ['Basic without a colon', `Basic ${Buffer.from('alice').toString('base64')}`, 'invalid credentials'],
    ['Basic with nothing', 'Basic', 'invalid credentials'],
    ['junk base64', 'Basic !!!!', 'invalid credentials'],
    ['another scheme', 'Digest username="alice"', 'invalid credentials'],
    ['extra words', `Bearer ${TOKEN} extra`, 'invalid credentials'],
    ['a user name as password', basic('alice', 'alice'), 'invalid credentials'],
  ])('%s → 401 UNAUTHORIZED with the Basic challenge', async (_name, header, message) => {
    const err = await refusal(auth, header);
    expect([err.status, err.code, err.message]).toEqual([401, 'UNAUTHORIZED', message]);
    expect(err.headers).toEqual({ 'WWW-Authenticate': 'Basic realm="pullthrough"' });
  });

  test('one bcrypt check per header: concurrent and repeated requests with it are answered from the cache', async () => {
    const fresh = ClientAuth.load(authConfig({ htpasswd: await file(`carol:${bcrypt.hashSync('pw', 4)}\n`) }));
    const header = basic('carol', 'pw');
    await Promise.all(Array.from({ length: 20 }, () => fresh.authenticate(header)));
    await fresh.authenticate(header);
    expect(fresh.verifications).toBe(1);
    // Wrong guesses repeated by a client in a loop are remembered too.
    for (let i = 0; i < 5; i++) await refusal(fresh, basic('carol', 'nope'));
    expect(fresh.verifications).toBe(2);
  });

  test.each([
    [
      'a missing htpasswd file',
      async () => ({ htpasswd: '/nonexistent/htpasswd' }),
      /^invalid config: auth\.htpasswd: open \/nonexistent\/htpasswd: no such file or directory$/,
    ],
    [
      'an MD5 (apr1) entry',
      async () => ({ htpasswd: await file('eve:$apr1$abc$0123456789abcdefghijkl\n') }),
      /auth\.htpasswd: \S+ line 1: user "eve" has no bcrypt hash \(create entries with htpasswd -B\)$/,
    ],
    ['a plain-text entry', async () => ({ htpasswd: await file(`ok:${bcrypt.hashSync('x', 4)}\nplain:secret\n`) }), /line 2: user "plain" has no bcrypt hash/],
    ['a line without a user', async () => ({ htpasswd: await file(':$2b$04$abc\n') }), /line 1: expected user:hash/],
    ['a user twice', async () => ({ htpasswd: await file(`a:${bcrypt.hashSync('x', 4)}\na:${bcrypt.hashSync('y', 4)}\n`) }), /line 2: user "a" appears twice/],
    [
      'a missing tokens file',
      async () => ({ tokensFile: '/nonexistent/tokens' }),
      /^invalid config: auth\.tokensFile: open \/nonexistent\/tokens: no such file or directory$/,
    ],
    [
      'a short token in the file',
      async () => ({ tokensFile: await file('# ci\nshort\n') }),
      /auth\.tokensFile: \S+ line 2: a token must be at least 16 characters/,
    ],
    ['files with no users or tokens', async () => ({ htpasswd: await file('# nobody yet\n') }), /no users and no tokens/],
  ])('%s fails the start, naming the key and line but never a secret', async (_name, make, message) => {
    const config = authConfig(await make());
    expect(() => ClientAuth.load(config)).toThrow(ConfigError);
    expect(() => ClientAuth.load(config)).toThrow(message);
    try {
      ClientAuth.load(config);
    } catch (err) {
      expect((err as Error).message).not.toMatch(/\$2[aby]\$|\$apr1\$|secret/);
    }
  });

  test('tokens from a file, comments and blank lines skipped', async () => {
    const fromFile = ClientAuth.load(authConfig({ tokensFile: await file(`# CI runners\n\n  ${TOKEN}  \n`) }));
    expect((await fromFile.authenticate(`Bearer ${TOKEN}`)).user).toMatch(/^token:/);
  });

  test('config: auth needs something to check against; inline tokens are at least 16 characters; realm has no quotes', () => {
    expect(() => configSchema.parse({ auth: {} })).toThrow(/set htpasswd, tokens or tokensFile/);
    expect(() => configSchema.parse({ auth: { tokens: ['short'] } })).toThrow(/at least 16 characters/);
    expect(() => configSchema.parse({ auth: { tokens: [TOKEN], realm: 'a"b' } })).toThrow(/quotes/);
    expect(configSchema.parse({}).auth).toBeUndefined();
  });
});
