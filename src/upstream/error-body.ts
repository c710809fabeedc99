import type { Readable } from 'node:stream';

/** Enough for any registry's or token service's error JSON; the rest is not read. */
const MAX_ERROR_BYTES = 64 * 1024;
/** The upstream's sentence goes into our message and the log line: one short line of it. */
const MAX_MESSAGE_CHARS = 300;

/** What an upstream said about its refusal: its OCI error code and message, when it sent them. */
export interface UpstreamAnswer {
  code?: string;
  message?: string;
}

/**
 * Reads (at most 64 KiB of) an error response's body and picks out what the upstream said:
 * the registry shape `{"errors":[{"code","message"}]}`, a token service's `{"details"}` (Docker
 * Hub), `{"error","error_description"}` (OAuth) or `{"message"}`, or the S3 XML
 * `<Error><Code>…</Code><Message>…</Message></Error>` of the blob stores registries redirect to
 * (Docker Hub's CDN, S3, GCS). Anything else says nothing.
 */
export async function readErrorBody(body: Readable): Promise<UpstreamAnswer> {
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of body) {
      chunks.push(chunk as Buffer);
      total += (chunk as Buffer).length;
      if (total >= MAX_ERROR_BYTES) break;
    }
  } catch {
    return {};
  } finally {
    body.destroy();
  }
  const raw = Buffer.concat(chunks).subarray(0, MAX_ERROR_BYTES).toString('utf8');
  if (raw.trimStart().startsWith('<')) return xmlAnswerOf(raw);
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return {};
  }
  return answerOf(parsed);
}

/** S3's error document is flat: its Code and Message elements are all there is to read. */
function xmlAnswerOf(xml: string): UpstreamAnswer {
  const element = (name: string) => text(new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml)?.[1]);
  return { code: element('Code'), message: element('Message') };
}

function answerOf(parsed: unknown): UpstreamAnswer {
  if (typeof parsed !== 'object' || parsed === null) return {};
  const o = parsed as Record<string, unknown>;
  const first = Array.isArray(o.errors) ? (o.errors[0] as Record<string, unknown> | undefined) : undefined;
  if (first && typeof first === 'object') {
    return { code: text(first.code), message: text(first.message) };
  }
  return { message: text(o.details) ?? text(o.error_description) ?? text(o.message) ?? text(o.error) };
}

/** A printable single line, cut short: the upstream's text goes into our JSON and our log. */
function text(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  // eslint-disable-next-line no-control-regex
  const line = value.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
  if (line === '') return undefined;
  return line.length > MAX_MESSAGE_CHARS ? `${line.slice(0, MAX_MESSAGE_CHARS)}…` : line;
}
