import { describeStorageDriver } from './contract.js';
import { S3rverFixture } from './s3-server.js';

let s3: S3rverFixture;
beforeAll(async () => {
  s3 = await S3rverFixture.start();
});
afterAll(async () => {
  await s3.stop();
});

describeStorageDriver('s3', () => s3.fixture());
// The same contract with 64 KiB parts, so its writes take the multipart path (s3rver has no 5 MiB floor).
describeStorageDriver('s3 (multipart)', () => s3.fixture({}, { partSize: 64 * 1024, queueSize: 2 }));
describeStorageDriver('s3 (prefix)', () => s3.fixture({ prefix: 'team/mirror' }));
