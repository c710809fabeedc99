import { tmpdir } from 'node:os';
import { z } from 'zod';
import { durationSchema, sizeSchema } from '../units.js';

const MiB = 2 ** 20;
/** S3's own floor for every part but the last. */
export const MIN_PART_SIZE = 5 * MiB;
const SEGMENTS = /^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/;

/** `storage: { driver: s3, s3: {…} }`. Secrets are better left out: the standard AWS chain reads AWS_* env. */
export const s3StorageSchema = z.strictObject({
  driver: z.literal('s3'),
  s3: z
    .strictObject({
      /** The bucket; it must exist (pullthrough never creates buckets). */
      bucket: z.string().min(3, 'must be a bucket name'),
      /** Signing region; MinIO and most S3-compatibles accept the default. */
      region: z.string().min(1).default('us-east-1'),
      /** An S3-compatible endpoint (MinIO, Ceph RGW, R2). Absent: AWS S3 for `region`. */
      endpoint: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
      /** `http://host/bucket/key` instead of `http://bucket.host/key`; MinIO and Ceph usually need true. */
      forcePathStyle: z.boolean().default(false),
      /** Put every key under this folder ("mirror" → `mirror/blobs/…`), to share a bucket. */
      prefix: z
        .string()
        .default('')
        .transform((p) => p.replace(/^\/+|\/+$/g, ''))
        .refine(
          (p) => p === '' || (SEGMENTS.test(p) && !p.split('/').some((s) => s === '.' || s === '..')),
          'must be a relative path such as "mirror" or "team/mirror"',
        ),
      /** Static credentials; both or neither. Absent: the standard AWS chain (AWS_* env, profiles, IMDS, IRSA). */
      accessKeyId: z.string().min(1).optional(),
      secretAccessKey: z.string().min(1).optional(),
      /**
       * Multipart part size (accepts "25MiB"). Every part but the last has exactly this size (R2
       * requires equal parts); an upload may have 10,000 parts, so this caps one blob at 10,000 ×
       * partSize (244 GiB at the default). Memory per upload is about partSize × queueSize.
       */
      partSize: sizeSchema.refine((n) => n >= MIN_PART_SIZE, 'must be at least 5MiB, the smallest part S3 accepts').default(25 * MiB),
      /** Parts of one upload sent at once. */
      queueSize: z.number().int().min(1).max(64).default(4),
      /**
       * A local folder for the spool of each blob being uploaded: clients of a cold blob read it
       * there, at their own pace, while the parts go to S3. Spool files are unlinked as soon as
       * they are created, so nothing stays behind, even after a crash.
       */
      spoolDir: z.string().min(1).default(tmpdir()),
      /** true: blob GETs answer 307 to a presigned S3 URL instead of proxying the bytes. */
      redirect: z.boolean().default(false),
      /** How long a presigned URL stays valid (ms; accepts "20m"). S3 allows at most 7 days. */
      redirectExpiry: durationSchema.refine((ms) => ms >= 1000 && ms <= 7 * 86_400_000, 'must be between 1s and 7d').default(20 * 60_000),
    })
    .refine((s) => (s.accessKeyId === undefined) === (s.secretAccessKey === undefined), {
      error: 'accessKeyId and secretAccessKey go together (or leave both out for the AWS credential chain)',
      path: ['secretAccessKey'],
    }),
});

export type S3Config = z.output<typeof s3StorageSchema>['s3'];
