/**
 * The current environment minus variables whose names start with any of the
 * prefixes. Servers under test read config overrides from the environment
 * (REGISTRY_*, PULLTHROUGH_*), and a value left in a developer's shell must not
 * quietly change what a test runs against.
 */
export function envWithout(prefixes: readonly string[], env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([key]) => !prefixes.some((prefix) => key.startsWith(prefix))));
}
