import { resolveConfig, type LoadedConfig } from './config.js';

/** The flags every command that reads the config accepts (node:util parseArgs options). */
export const CONFIG_OPTIONS = {
  config: { type: 'string' },
  storage: { type: 'string' },
  upstream: { type: 'string' },
  'log-level': { type: 'string' },
} as const;

export interface ConfigFlagValues {
  config?: string;
  storage?: string;
  upstream?: string;
  'log-level'?: string;
  listen?: string;
  'debug-listen'?: string;
}

/** The config file, overridden by the command's flags, then by the environment; with where each came from. */
export function configFromFlags(values: ConfigFlagValues): LoadedConfig {
  return resolveConfig(values.config, {
    listen: values.listen,
    debugListen: values['debug-listen'],
    storage: values.storage,
    upstream: values.upstream,
    logLevel: values['log-level'],
  });
}

/** 1536 → "1.5 KiB": sizes for people. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}
