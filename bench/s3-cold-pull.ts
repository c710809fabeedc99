// `npm run bench:s3`: one 1 GiB random blob pulled cold through pullthrough on the S3 driver
// (Ceph's RADOS Gateway from scripts/rgw.sh, the S3 engine the tests use) and through pullthrough
// on the filesystem driver, from the same local upstream in the same run; pullthrough's peak RSS
// during each cold pull. Every download is hashed and checked against the blob's digest. A
// benchmark, not a test: it asserts nothing about timings. Results: a table on stdout,
// bench/results/s3-<date>.{json,md}.
//
// One file, two roles: run with no arguments it is the bench; it forks itself as `--upstream` (a
// static registry serving the blob from a file), in its own process so it does not share an event
// loop with the client that downloads and hashes. The gateway is reused if one runs (rgw.sh), and
// stopped at the end only if the bench started it.
import { fork, type ChildProcess } from 'node:child_process';
import { createHash, randomFillSync } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, writeFile } from 'node:fs/promises';
import { createServer, get as httpGet } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { Pullthrough, REPO_ROOT } from '../test/e2e/harness/pullthrough.js';
import { RgwGateway, pendingUploads, releaseRgw, rgwDaemons } from '../test/storage/rgw.js';
import { makeTempDir } from '../test/e2e/harness/tmp.js';
import { intFromEnv } from './lib/config.js';
import { mib, num } from './lib/format.js';
import { adopt, disposeAll, disposeOnSignals, release, tempDirResource, withDeadline, type Disposable } from './lib/lifetime.js';
import { describeMachine, type Machine } from './lib/machine.js';
import { PeakRss, readRss } from './lib/rss.js';

const MiB = 2 ** 20;
const SELF = fileURLToPath(import.meta.url);
const REPOSITORY = 'library/bench-s3';
const TRANSFER_TIMEOUT_MS = 150_000;
const TOTAL_BUDGET_MS = 300_000;

/** The knobs; the defaults are what the published numbers use (pullthrough's own S3 defaults). */
const config = {
  blobBytes: intFromEnv('BENCH_S3_MIB', 1024) * MiB,
  partSizeMiB: intFromEnv('BENCH_S3_PART_MIB', 25),
  queueSize: intFromEnv('BENCH_S3_QUEUE', 4),
};

// ---------------------------------------------------------------------------------------------
// Child roles

/** A registry that holds one blob: `/v2/` and `/v2/<any name>/blobs/<digest>`, GET and HEAD, from a file. */
async function serveUpstream(file: string, digest: string, size: number): Promise<void> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    res.setHeader('Docker-Distribution-API-Version', 'registry/2.0');
    if (path === '/v2/' || path === '/v2') {
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': '2' }).end('{}');
      return;
    }
    if (/^\/v2\/.+\/blobs\/sha256:[0-9a-f]{64}$/.test(path) && path.endsWith(`/${digest}`)) {
      res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': String(size), 'Docker-Content-Digest': digest });
      if (req.method === 'HEAD') return void res.end();
      pipeline(createReadStream(file, { highWaterMark: MiB }), res).catch(() => res.destroy());
      return;
    }
    const body = JSON.stringify({ errors: [{ code: 'BLOB_UNKNOWN', message: 'blob unknown to registry' }] });
    res.writeHead(404, { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(body)) }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  process.once('SIGTERM', () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  });
  process.send!({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
}

// ---------------------------------------------------------------------------------------------
// The bench

/** A forked role, ready once it sent its first message (its URL); dispose() stops it. */
async function startRole(label: string, args: string[]): Promise<{ child: ChildProcess; info: { url: string } } & Disposable> {
  const child = fork(SELF, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const dispose = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };
  const info = await new Promise<{ url: string }>((resolve, reject) => {
    child.once('message', (m) => resolve(m as { url: string }));
    child.once('exit', (code, signal) => reject(new Error(`${label}: exited before it was ready (code ${String(code)}, signal ${String(signal)})`)));
  });
  return adopt({ child, info, dispose });
}

/** Writes `bytes` random bytes to `file`, hashing them on the way; resolves with the digest. */
async function writeRandomBlob(file: string, bytes: number): Promise<string> {
  const hash = createHash('sha256');
  const handle = await open(file, 'w');
  try {
    const chunk = Buffer.alloc(8 * MiB);
    for (let written = 0; written < bytes;) {
      const n = Math.min(chunk.length, bytes - written);
      const part = randomFillSync(chunk.subarray(0, n));
      hash.update(part);
      await handle.write(part);
      written += n;
    }
  } finally {
    await handle.close();
  }
  return `sha256:${hash.digest('hex')}`;
}

interface Pull {
  seconds: number;
  mbps: number;
}

/** GETs the whole blob, hashing it; throws unless it is 200 with exactly the blob's bytes and digest. */
function pullBlob(url: string, digest: string, size: number): Promise<Pull> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = httpGet(url, { agent: false }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        reject(new Error(`GET ${url}: HTTP ${String(res.statusCode)}`));
        return;
      }
      const hash = createHash('sha256');
      let received = 0;
      res.on('data', (chunk: Buffer) => {
        hash.update(chunk);
        received += chunk.length;
      });
      res.on('error', reject);
      res.on('aborted', () => reject(new Error(`GET ${url}: connection aborted after ${received} bytes`)));
      res.on('end', () => {
        const seconds = (performance.now() - started) / 1000;
        const actual = `sha256:${hash.digest('hex')}`;
        if (received !== size || actual !== digest) {
          reject(new Error(`GET ${url}: ${received} of ${size} bytes, digest ${actual}, expected ${digest}`));
          return;
        }
        resolve({ seconds, mbps: size / 1e6 / seconds });
      });
    });
    req.setTimeout(TRANSFER_TIMEOUT_MS, () => req.destroy(new Error(`GET ${url}: not done within ${TRANSFER_TIMEOUT_MS / 1000} s`)));
    req.on('error', reject);
  });
}

interface MirrorRun {
  cold: Pull;
  warm: Pull;
  /** RSS once started and idle, before the pull. */
  idleRss: number;
  /** Peak RSS over the process's life up to the end of the cold pull: VmHWM and 20 ms VmRSS samples. */
  peakRss: number;
}

/** A fresh pullthrough with empty storage: one cold pull (RSS watched), then one warm pull from its store. */
async function measureMirror(
  label: string,
  upstreamUrl: string,
  storage: Record<string, unknown> | undefined,
  blob: { digest: string; size: number },
  log: (line: string) => void,
  afterCold?: () => Promise<void>,
): Promise<MirrorRun> {
  const mirror = adopt(await Pullthrough.create({ upstreamUrl, storage }));
  try {
    const pid = mirror.pid!;
    const idleRss = readRss(pid)?.rss ?? 0;
    const rss = new PeakRss();
    rss.watch(label, pid, true);
    const url = `${mirror.url}/v2/${REPOSITORY}/blobs/${blob.digest}`;
    const cold = await pullBlob(url, blob.digest, blob.size).catch(async (err: unknown) => {
      throw new Error(`${(err as Error).message}\n--- ${label} log ---\n${await mirror.logTail(3000)}`);
    });
    rss.unwatch(pid);
    const peakRss = rss.stop().get(label) ?? 0;
    log(`${label}: cold ${cold.seconds.toFixed(2)} s, ${num(cold.mbps)} MB/s, peak RSS ${mib(peakRss)}`);
    await afterCold?.();
    const warm = await pullBlob(url, blob.digest, blob.size);
    log(`${label}: warm ${warm.seconds.toFixed(2)} s, ${num(warm.mbps)} MB/s`);
    return { cold, warm, idleRss, peakRss };
  } finally {
    await release(mirror);
  }
}

/**
 * After the S3 cold pull: the blob is one object of the right size, and no multipart upload is
 * pending. The commit follows the client's last byte, so this waits for it (up to a minute).
 */
async function checkBucket(rgw: RgwGateway, bucket: string, digest: string, size: number): Promise<string> {
  const client = rgw.client();
  const hex = digest.slice('sha256:'.length);
  const expected = `blobs/sha256/${hex.slice(0, 2)}/${hex} (${size} B)`;
  try {
    for (const deadline = Date.now() + 60_000; ; await new Promise((resolve) => setTimeout(resolve, 200))) {
      const objects = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `blobs/sha256/${hex.slice(0, 2)}/` }));
      const found = (objects.Contents ?? []).map((o) => `${o.Key} (${o.Size} B)`);
      const uploads: string[] = [];
      for await (const upload of pendingUploads(client, bucket)) uploads.push(upload.Key!);
      if (found.length === 1 && found[0] === expected && uploads.length === 0) return expected;
      if (Date.now() > deadline) throw new Error(`bucket holds ${JSON.stringify(found)} and uploads ${JSON.stringify(uploads)}, expected [${expected}] alone`);
    }
  } finally {
    client.destroy();
  }
}

interface Row {
  subject: string;
  pull: Pull;
  peakRss?: number;
  idleRss?: number;
}

function renderMarkdown(date: string, machine: Machine, rows: Row[], notes: string[]): string {
  const lines = [
    `# pullthrough on S3: cold pull of a ${mib(config.blobBytes)} blob, ${date}`,
    '',
    `Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB RAM; ${machine.os}, Linux ${machine.kernel}; Node ${machine.node}.`,
    `One run each, everything on 127.0.0.1; every download hashed (in the bench's Node process) and checked against the digest; MB = 10^6 bytes. S3 driver: partSize ${config.partSizeMiB} MiB, queueSize ${config.queueSize}.`,
    '',
    '| pull | seconds | MB/s | pullthrough idle RSS | pullthrough peak RSS |',
    '|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.subject} | ${r.pull.seconds.toFixed(2)} | ${num(r.pull.mbps)} | ${r.idleRss === undefined ? '' : mib(r.idleRss)} | ${r.peakRss === undefined ? '' : mib(r.peakRss)} |`,
    ),
    '',
    'Notes:',
    '',
    ...notes.map((n) => `- ${n}`),
  ];
  return `${lines.join('\n')}\n`;
}

async function main(): Promise<number> {
  disposeOnSignals();
  const startedAt = performance.now();
  const log = (line: string) => process.stderr.write(`[${((performance.now() - startedAt) / 1000).toFixed(0).padStart(4)} s] ${line}\n`);
  const date = new Date().toISOString().slice(0, 10);
  const machine = await describeMachine();
  const loadBefore = loadavg()[0]!;

  const work = adopt(tempDirResource(await makeTempDir('bench-s3'))).dir;
  const blobFile = join(work, 'blob');
  log(`writing a ${mib(config.blobBytes)} random blob`);
  const digest = await writeRandomBlob(blobFile, config.blobBytes);
  const blob = { digest, size: config.blobBytes };

  const upstream = await startRole('upstream', ['--upstream', blobFile, digest, String(blob.size)]);
  // The gateway of rgw.sh: reused if one runs; released at the end (stopped unless kept or in use).
  const rgwStart = performance.now();
  const rgw = await RgwGateway.start();
  const rgwStartSeconds = (performance.now() - rgwStart) / 1000;
  adopt({ dispose: async () => releaseRgw() });
  const bucket = await rgw.createBucket();
  adopt({ dispose: () => rgw.stop() });
  log(`upstream ${upstream.info.url}, Ceph RGW ${rgw.endpoint} bucket ${bucket} (ready in ${rgwStartSeconds.toFixed(1)} s)`);
  const rgwRss = new PeakRss();
  for (const [daemon, pid] of rgwDaemons()) rgwRss.watch(daemon, pid);

  const direct = await pullBlob(`${upstream.info.url}/v2/${REPOSITORY}/blobs/${digest}`, digest, blob.size);
  log(`direct from upstream: ${direct.seconds.toFixed(2)} s, ${num(direct.mbps)} MB/s`);

  const s3Storage = {
    driver: 's3',
    s3: {
      bucket,
      endpoint: rgw.endpoint,
      forcePathStyle: true,
      ...rgw.credentials(),
      partSize: `${config.partSizeMiB}MiB`,
      queueSize: config.queueSize,
    },
  };
  let stored = '';
  const onS3 = await measureMirror('pullthrough (s3)', upstream.info.url, s3Storage, blob, log, async () => {
    stored = await checkBucket(rgw, bucket, digest, blob.size);
  });
  const rgwPeaks = Object.fromEntries(rgwRss.stop());
  const rgwPeakText = Object.entries(rgwPeaks)
    .map(([daemon, bytes]) => `${daemon} ${mib(bytes)}`)
    .join(', ');
  const onFs = await measureMirror('pullthrough (filesystem)', upstream.info.url, undefined, blob, log);

  const rows: Row[] = [
    { subject: 'direct from the upstream (no mirror)', pull: direct },
    { subject: 'pullthrough, S3 driver (Ceph RGW), cold', pull: onS3.cold, idleRss: onS3.idleRss, peakRss: onS3.peakRss },
    { subject: 'pullthrough, filesystem driver, cold', pull: onFs.cold, idleRss: onFs.idleRss, peakRss: onFs.peakRss },
    { subject: 'pullthrough, S3 driver, warm (from the bucket)', pull: onS3.warm },
    { subject: 'pullthrough, filesystem driver, warm', pull: onFs.warm },
  ];
  const partBound = config.partSizeMiB * config.queueSize;
  const notes = [
    `S3 cold ÷ filesystem cold throughput: ${num(onS3.cold.mbps / onFs.cold.mbps)}×.`,
    `Peak RSS of the S3 pullthrough during the cold pull: ${mib(onS3.peakRss)} (idle ${mib(onS3.idleRss)}); the multipart writer holds at most partSize × queueSize = ${partBound} MiB of parts.`,
    `A cold pull ends when the client has every byte, released once the digest matched; the commit (S3: CompleteMultipartUpload; filesystem: fsync + rename) follows on no client's path, and the bucket check waits for it.`,
    `The S3 engine is Ceph RGW 16.2 on one node (scripts/rgw.sh): radosgw on beast, one bluestore OSD on a sparse file, pools of size 1, no replication. Its daemons' peak RSS during the S3 pulls: ${rgwPeakText}. The S3 numbers measure pullthrough plus a Ceph cluster on the same ${machine.cores} cores.`,
    `1-minute load average ${loadBefore.toFixed(1)} at the start, ${loadavg()[0]!.toFixed(1)} at the end, on ${machine.cores} cores: ` +
      'upstream, Ceph (mon, OSD, radosgw), both mirrors and the hashing client share them, so compare rows of one run, not runs on different machines.',
    `Verified after the S3 cold pull: the bucket holds exactly ${stored}, and no multipart upload.`,
  ];

  const results = {
    date,
    machine,
    config: { ...config, repository: REPOSITORY, digest },
    wallSeconds: (performance.now() - startedAt) / 1000,
    direct,
    s3: { ...onS3, engine: 'ceph-rgw', rgwReadySeconds: rgwStartSeconds, rgwPeakRss: rgwPeaks },
    filesystem: onFs,
    ratios: { s3ColdOverFilesystemCold: onS3.cold.mbps / onFs.cold.mbps },
    notes,
  };
  const dir = join(REPO_ROOT, 'bench', 'results');
  await mkdir(dir, { recursive: true });
  const jsonFile = join(dir, `s3-${date}.json`);
  const markdownFile = join(dir, `s3-${date}.md`);
  const markdown = renderMarkdown(date, machine, rows, notes);
  await writeFile(jsonFile, `${JSON.stringify(results, null, 2)}\n`);
  await writeFile(markdownFile, markdown);
  process.stdout.write(`\n${markdown}\nwrote ${markdownFile} and ${jsonFile}\n`);
  return 0;
}

const [role, ...args] = process.argv.slice(2);
if (role === '--upstream') {
  await serveUpstream(args[0]!, args[1]!, Number(args[2]));
} else {
  // The chain's end: it exits the process itself.
  void withDeadline('bench:s3', TOTAL_BUDGET_MS, main)
    .catch((err: unknown) => {
      console.error(`bench:s3: ${(err as Error).stack ?? String(err)}`);
      return 1;
    })
    .then(async (code) => {
      await disposeAll();
      process.exit(code);
    });
}
