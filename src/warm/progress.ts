import { formatBytes } from '../command-config.js';
import type { WarmProgress } from './warm.js';

interface ImageState {
  blobs: number;
  done: number;
  bytes: number;
  transferred: number;
  started: number;
  status?: string;
}

/** How often the terminal display is redrawn. */
const REDRAW_MS = 200;

/**
 * In a terminal: one line per image, redrawn in place (layers done, bytes, rate). Otherwise
 * (cron, CI logs): a plain line per finished blob and per finished image.
 */
export function createProgress(out: NodeJS.WriteStream): WarmProgress & { stop(): void } {
  const images = new Map<string, ImageState>();
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-boolean-literal-compare -- isTTY is undefined on a pipe, whatever its type says
  const tty = out.isTTY === true;
  let drawn = 0;
  const line = (image: string, s: ImageState) => {
    const seconds = Math.max(0.001, (performance.now() - s.started) / 1000);
    const rate = `${formatBytes(Math.round(s.transferred / seconds))}/s`;
    return `${image}  ${s.done}/${s.blobs} blobs  ${formatBytes(s.transferred)} fetched of ${formatBytes(s.bytes)}  ${rate}${s.status ? `  ${s.status}` : ''}`;
  };
  const redraw = () => {
    if (drawn > 0) out.write(`\x1b[${drawn}A`);
    for (const [image, s] of images) out.write(`\x1b[2K${line(image, s)}\n`);
    drawn = images.size;
  };
  const timer = tty ? setInterval(redraw, REDRAW_MS) : undefined;
  const state = (image: string) => {
    let s = images.get(image);
    if (!s) images.set(image, (s = { blobs: 0, done: 0, bytes: 0, transferred: 0, started: performance.now() }));
    return s;
  };
  return {
    planned(image, blobs, bytes) {
      Object.assign(state(image), { blobs, bytes });
    },
    transferred(image, bytes) {
      state(image).transferred += bytes;
    },
    blobDone(image, digest, cached) {
      const s = state(image);
      s.done += 1;
      if (!tty) out.write(`${image}  blob ${s.done}/${s.blobs}  ${digest}  ${cached ? 'cached' : 'fetched'}\n`);
    },
    finished(image, error) {
      const s = state(image);
      s.status = error ? `FAILED: ${error.message}` : 'done';
      if (!tty) out.write(`${line(image, s)}\n`);
    },
    stop() {
      clearInterval(timer);
      if (tty) redraw();
    },
  };
}
