// Fallback S3 server for machines where MinIO cannot be built: s3rver (npm) on loopback.
// usage: node scripts/s3rver.mjs <directory> <port>
import S3rver from 's3rver';

const [directory, port] = process.argv.slice(2);
const server = new S3rver({
  address: '127.0.0.1',
  port: Number(port),
  directory,
  silent: true,
  configureBuckets: [{ name: process.env.S3_BUCKET || 'twin-local' }],
});
await server.run();
console.log(`s3rver listening on 127.0.0.1:${port}, data in ${directory}`);
const stop = () => server.close().then(() => process.exit(0));
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
