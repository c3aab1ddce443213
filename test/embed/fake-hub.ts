/**
 * A stand-in for the Hugging Face hub on 127.0.0.1: serves model folders under `/{owner}/{name}/resolve/{revision}/{file}`
 * (with Content-Length and Range requests, like the hub), answers 404 for anything else, and can cut a download
 * off half-way through a file. Started on a free port, stopped (connections included) by `close()`.
 */
import fs from 'node:fs';
import { createServer, type Server } from 'node:http';
import path from 'node:path';

export interface FakeHub {
  /** `http://127.0.0.1:PORT`: what LOOKALIKE_HF_ENDPOINT is set to. */
  readonly url: string;
  /** Paths of every GET received, in order. */
  readonly requests: string[];
  /** Files (`onnx/vision_model.onnx`) whose next download is cut half-way: the socket is closed mid-body. */
  readonly cutNext: Set<string>;
  close(): Promise<void>;
}

export async function startFakeHub(repos: Record<string, string>): Promise<FakeHub> {
  const requests: string[] = [];
  const cutNext = new Set<string>();
  const server: Server = createServer((req, res) => {
    const url = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    requests.push(url);
    const m = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(url);
    const root = m ? repos[m[1]!] : undefined;
    const file = m && root ? path.resolve(root, m[3]!) : undefined;
    if (!m || !root || !file || !file.startsWith(root + path.sep) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      res.writeHead(404, { 'content-type': 'application/json', 'x-error-code': 'EntryNotFound' });
      res.end(JSON.stringify({ error: 'Entry not found' }));
      return;
    }
    const body = fs.readFileSync(file);
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    if (range) {
      const start = Number(range[1]);
      const end = Math.min(body.length - 1, range[2] ? Number(range[2]) : body.length - 1);
      res.writeHead(206, { 'content-length': end - start + 1, 'content-range': `bytes ${start}-${end}/${body.length}` });
      res.end(body.subarray(start, end + 1));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length });
    if (cutNext.delete(m[3]!)) {
      // half the file, then the connection drops (as when a network goes away mid-download)
      res.write(body.subarray(0, Math.floor(body.length / 2)), () => setTimeout(() => req.socket.destroy(), 50));
      return;
    }
    res.end(body);
  });
  server.requestTimeout = 10_000;
  server.headersTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    cutNext,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
