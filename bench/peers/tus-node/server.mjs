// The peer tus server for bench/tus_peers.py: @tus/server with @tus/s3-store, as its
// README sets them up, against the same local S3 as chute.
//   node server.mjs PORT S3_ENDPOINT BUCKET
// Credentials come from the AWS_* environment, like every AWS SDK's.
import http from 'node:http'
import { S3Store } from '@tus/s3-store'
import { Server } from '@tus/server'

const [port, endpoint, bucket] = process.argv.slice(2)
const datastore = new S3Store({
  partSize: 8 * 1024 * 1024,
  s3ClientConfig: { bucket, endpoint, region: 'us-east-1', forcePathStyle: true },
})
const tus = new Server({ path: '/files', datastore })
const server = http.createServer((req, res) => {
  if (req.url === '/healthz') {
    res.writeHead(200).end('ok')
    return
  }
  tus.handle(req, res)
})
server.listen(Number(port), '127.0.0.1')
