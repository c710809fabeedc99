/** `host:port`, `[v6]:port` or `:port` → where to listen. `[::]` (the default) is dual stack. */
export interface ListenAddress {
  host: string;
  port: number;
}

export function parseListen(value: string): ListenAddress {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(value.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new Error(`invalid listen address ${JSON.stringify(value)}: use host:port, [v6]:port or :port`);
  return { host: m[1] ?? (m[2] || '::'), port };
}

/** The address as a URL host part: brackets around IPv6. */
export function formatHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}
