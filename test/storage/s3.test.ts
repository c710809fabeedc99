import { jest } from '@jest/globals';
import { describeStorageDriver } from './contract.js';
import { describeWriterReadBack } from './contract-readback.js';
import { describeListingContract } from './contract-listing.js';
import { RGW_START_TIMEOUT_MS, RgwGateway } from './rgw.js';

const MiB = 2 ** 20;
// A multipart object is several round trips to RGW; on a loaded CI machine they outlast jest's 5 s.
jest.setTimeout(60_000);
let rgw: RgwGateway;
beforeAll(async () => {
  rgw = await RgwGateway.start();
}, RGW_START_TIMEOUT_MS);
afterAll(async () => {
  await rgw.stop();
});

// On Ceph's RGW (scripts/rgw.sh). Objects below the part size: one PutObject each.
describeStorageDriver('s3 (rgw)', () => rgw.fixture());
// The same contract with objects of three 5 MiB parts (S3's smallest, which RGW enforces).
describeStorageDriver('s3 (rgw, multipart)', () => rgw.fixture({ partSize: '5MiB', queueSize: 2 }), { objectBytes: 2 * 5 * MiB + 123_457 });
describeStorageDriver('s3 (rgw, prefix)', () => rgw.fixture({ prefix: 'team/mirror' }));
// Readers of a blob being fetched read back from the writer's local spool, in both upload shapes.
describeWriterReadBack('s3 (rgw)', () => rgw.fixture());
describeListingContract('s3 (rgw)', () => rgw.fixture());
describeListingContract('s3 (rgw, prefix)', () => rgw.fixture({ prefix: 'team/mirror' }));
describeWriterReadBack('s3 (rgw, multipart)', () => rgw.fixture({ partSize: '5MiB', queueSize: 2 }), 2 * 5 * MiB + 123_457);
