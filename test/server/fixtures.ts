/** Shared helpers of the server tests. */
import fs from 'node:fs';
import path from 'node:path';
import { QUERIES } from '../helpers.js';

/** Encode a multipart body the way a browser does. */
export async function multipart(parts: Record<string, string | { name: string; bytes: Uint8Array }>) {
  const fd = new FormData();
  for (const [k, v] of Object.entries(parts)) {
    if (typeof v === 'string') fd.append(k, v);
    else fd.append(k, new Blob([new Uint8Array(v.bytes)]), v.name);
  }
  const req = new Request('http://localhost/', { method: 'POST', body: fd });
  return { payload: Buffer.from(await req.arrayBuffer()), headers: { 'content-type': req.headers.get('content-type')! } };
}

export const queryFile = (prefix = 'daisy') => path.join(QUERIES, fs.readdirSync(QUERIES).find((f) => f.startsWith(prefix))!);
export const queryBytes = (prefix = 'daisy') => fs.readFileSync(queryFile(prefix));

/** Every absolute filesystem path in a text (API routes like /v1/… are not paths). */
export function absolutePaths(text: string): string[] {
  return [...text.matchAll(/(?<![\w~:./-])(?:[A-Za-z]:\\|\/)(?!v1\/)[\w.-]+\/[^\s"']*/gu)].map((m) => m[0]);
}

export function expectNoServerPaths(body: string, ...known: string[]): void {
  for (const k of known) {
    if (body.includes(k)) throw new Error(`response contains the server path ${k}: ${body}`);
  }
  const found = absolutePaths(body);
  if (found.length > 0) throw new Error(`response contains absolute paths ${found.join(', ')}: ${body}`);
}
