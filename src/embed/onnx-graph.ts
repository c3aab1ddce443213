/**
 * A few edits of an ONNX model's bytes, in memory (the file on disk is never changed, so its revision — and every
 * collection built with it — stays valid). ONNX files are Protocol Buffers; the edits only need the wire format:
 * find the graph (ModelProto field 7) and its nodes (GraphProto field 1: NodeProto inputs 1, outputs 2, op_type 4),
 * and append a graph output (GraphProto field 12, a ValueInfoProto) — repeated fields may be appended anywhere.
 */

interface Field {
  readonly no: number;
  readonly wire: number;
  /** The field's value bytes (LEN fields) or undefined. */
  readonly bytes?: Uint8Array;
  /** Offsets of the whole field (tag included) in the message. */
  readonly start: number;
  readonly end: number;
}

function varint(buf: Uint8Array, pos: number): [number, number] {
  let v = 0;
  let mul = 1;
  for (;;) {
    if (pos >= buf.length) throw new RangeError('truncated varint');
    const b = buf[pos++]!;
    v += (b & 0x7f) * mul;
    if (b < 0x80) return [v, pos];
    mul *= 128;
  }
}

/** The top-level fields of one message. */
function fields(buf: Uint8Array): Field[] {
  const out: Field[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const start = pos;
    const [tag, p] = varint(buf, pos);
    pos = p;
    const no = Math.floor(tag / 8);
    const wire = tag & 7;
    if (wire === 0) pos = varint(buf, pos)[1];
    else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else if (wire === 2) {
      const [len, q] = varint(buf, pos);
      out.push({ no, wire, bytes: buf.subarray(q, q + len), start, end: q + len });
      pos = q + len;
      continue;
    } else throw new RangeError(`unsupported wire type ${wire}`);
    out.push({ no, wire, start, end: pos });
  }
  return out;
}

function encodeVarint(v: number): number[] {
  const out: number[] = [];
  while (v >= 0x80) {
    out.push((v % 128) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return out;
}

function lenField(no: number, bytes: Uint8Array): Uint8Array {
  const head = [...encodeVarint(no * 8 + 2), ...encodeVarint(bytes.length)];
  const out = new Uint8Array(head.length + bytes.length);
  out.set(head);
  out.set(bytes, head.length);
  return out;
}

const text = (b: Uint8Array | undefined): string => new TextDecoder().decode(b);
const concat = (...parts: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
};

export interface GraphNode {
  readonly op: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
}

/** The graph's nodes and output names. */
export function readGraph(model: Uint8Array): { nodes: GraphNode[]; outputs: string[] } {
  const graph = fields(model).find((f) => f.no === 7 && f.wire === 2);
  if (!graph) throw new RangeError('no graph in the model');
  const nodes: GraphNode[] = [];
  const outputs: string[] = [];
  for (const f of fields(graph.bytes!)) {
    if (f.no === 1 && f.wire === 2) {
      const nf = fields(f.bytes!);
      nodes.push({
        op: text(nf.find((x) => x.no === 4)?.bytes),
        inputs: nf.filter((x) => x.no === 1).map((x) => text(x.bytes)),
        outputs: nf.filter((x) => x.no === 2).map((x) => text(x.bytes)),
      });
    } else if (f.no === 12 && f.wire === 2) {
      outputs.push(text(fields(f.bytes!).find((x) => x.no === 1)?.bytes));
    }
  }
  return { nodes, outputs };
}

/** The model with tensor `name` (float32) added to the graph's outputs. */
export function addGraphOutput(model: Uint8Array, name: string): Uint8Array {
  const top = fields(model);
  const graph = top.find((f) => f.no === 7 && f.wire === 2)!;
  // ValueInfoProto { name = 1; type = 2 { tensor_type = 1 { elem_type = 1 (FLOAT) } } }
  const tensor = new Uint8Array([0x08, 0x01]);
  const type = lenField(1, tensor);
  const info = concat(lenField(1, new TextEncoder().encode(name)), lenField(2, type));
  const newGraph = concat(graph.bytes!, lenField(12, info));
  return concat(model.subarray(0, graph.start), lenField(7, newGraph), model.subarray(graph.end));
}

/**
 * A CNN that ends in global average pooling: the model with the pooled feature map (the pooling node's input,
 * [N, C, H, W]) as an extra output named by `output`, for other poolings (GeM, max). Undefined when the graph has no
 * GlobalAveragePool.
 */
export function exposeFeatureMap(model: Uint8Array): { model: Uint8Array; output: string } | undefined {
  const { nodes, outputs } = readGraph(model);
  const pool = nodes.find((n) => n.op === 'GlobalAveragePool');
  const input = pool?.inputs[0];
  if (!input) return undefined;
  if (outputs.includes(input)) return { model, output: input };
  return { model: addGraphOutput(model, input), output: input };
}
