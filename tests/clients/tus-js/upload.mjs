// Upload one file with tus-js-client, as a Node program would:
//   node upload.mjs ENDPOINT FILE CHUNK_BYTES TOKEN FILENAME
// Prints one JSON line: {"url": ...} on success, {"error", "status", "body"} on failure.
import { readFileSync } from 'node:fs'
import { Upload } from 'tus-js-client'

const [endpoint, file, chunkSize, token, filename] = process.argv.slice(2)
const data = readFileSync(file)
const upload = new Upload(data, {
  endpoint,
  chunkSize: Number(chunkSize),
  retryDelays: [0, 500, 1000, 2000],
  headers: { Authorization: `Bearer ${token}` },
  metadata: { filename, filetype: 'application/octet-stream' },
  onSuccess() {
    console.log(JSON.stringify({ url: upload.url }))
  },
  onError(error) {
    const response = error.originalResponse
    console.log(JSON.stringify({
      error: error.message,
      status: response ? response.getStatus() : null,
      body: response ? response.getBody() : null,
    }))
    process.exitCode = 1
  },
})
upload.start()
