/** `linux/amd64`, `linux/arm64/v8`. */
export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export function parsePlatform(text: string): Platform {
  const [os, architecture, variant] = text.trim().split('/');
  if (!os || !architecture) throw new Error(`not a platform: ${JSON.stringify(text)} (try linux/amd64)`);
  return { os, architecture, variant };
}

/** The platform of this machine, the default a pull would choose. */
export function hostPlatform(): Platform {
  const arch: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x', ia32: '386' };
  return { os: 'linux', architecture: arch[process.arch] ?? process.arch };
}

/** A wanted platform matches when os and architecture agree, and the variant if it names one. */
export function platformMatches(wanted: Platform, actual: Partial<Platform> | undefined): boolean {
  return actual?.os === wanted.os && actual.architecture === wanted.architecture && (wanted.variant === undefined || actual.variant === wanted.variant);
}
