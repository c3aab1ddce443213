/** JSON schemas of the HTTP API (validated by Fastify, published in /openapi.json). */

const metadata = { type: 'object', additionalProperties: true } as const;

export const NameParams = {
  type: 'object',
  required: ['name'],
  properties: { name: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$' } },
} as const;

export const ItemParams = {
  type: 'object',
  required: ['name', 'id'],
  properties: {
    name: NameParams.properties.name,
    id: { type: 'string', minLength: 1, maxLength: 256, pattern: '^[^/\\\\]+$' },
  },
} as const;

export const ThumbQuery = {
  type: 'object',
  // query strings are text (the API does not coerce types): a number of pixels, 16 to 1024
  properties: { size: { type: 'string', pattern: '^(1[6-9]|[2-9][0-9]|[1-9][0-9]{2}|10[01][0-9]|102[0-4])$' } },
  additionalProperties: false,
} as const;

export const CollectionInfo = {
  type: 'object',
  properties: {
    collection: { type: 'string' },
    count: { type: 'integer' },
    model: { type: 'string' },
    embedder: { type: 'string' },
    dimension: { type: 'integer' },
    metric: { type: 'string' },
    vectorType: { type: 'string' },
    modalities: { type: 'array', items: { type: 'string' } },
    createdAt: { type: 'string' },
    index: { type: 'object', additionalProperties: true },
  },
} as const;

export const CollectionList = {
  type: 'object',
  properties: {
    collections: { type: 'array', items: CollectionInfo },
    default: { type: ['string', 'null'] },
  },
} as const;

export const CreateCollection = {
  type: 'object',
  required: ['name', 'model'],
  additionalProperties: false,
  properties: {
    name: NameParams.properties.name,
    model: { type: 'string', minLength: 1, maxLength: 200 },
    pooling: { type: 'string', enum: ['cls', 'mean'] },
  },
} as const;

export const SearchBody = {
  type: 'object',
  additionalProperties: false,
  properties: {
    text: { type: 'string', minLength: 1, maxLength: 2000 },
    id: { type: 'string', minLength: 1, maxLength: 256 },
    vector: { type: 'array', items: { type: 'number' }, minItems: 1, maxItems: 65536 },
    k: { type: 'integer' },
    minScore: { type: 'number' },
    where: { type: 'object', additionalProperties: { type: ['string', 'number', 'boolean', 'null'] } },
  },
} as const;

export interface SearchBodyT {
  text?: string;
  id?: string;
  vector?: number[];
  k?: number;
  minScore?: number;
  where?: Record<string, string | number | boolean | null>;
}

export const SearchResponse = {
  type: 'object',
  properties: {
    results: {
      type: 'array',
      items: {
        type: 'object',
        properties: { id: { type: 'string' }, path: { type: ['string', 'null'] }, score: { type: 'number' }, metadata },
      },
    },
  },
} as const;

export const AddResponse = {
  type: 'object',
  properties: {
    added: { type: 'array', items: { type: 'object', properties: { id: { type: 'string' }, path: { type: ['string', 'null'] } } } },
    failures: { type: 'array', items: { type: 'object', properties: { filename: { type: 'string' }, error: { type: 'string' } } } },
  },
} as const;

export const Item = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    path: { type: ['string', 'null'] },
    contentHash: { type: ['string', 'null'] },
    size: { type: ['integer', 'null'] },
    mtimeMs: { type: ['number', 'null'] },
    width: { type: ['integer', 'null'] },
    height: { type: ['integer', 'null'] },
    metadata,
    updatedAt: { type: 'string' },
  },
} as const;

export const EmbedBody = {
  type: 'object',
  required: ['text'],
  additionalProperties: false,
  properties: {
    text: { type: 'string', minLength: 1, maxLength: 2000 },
    collection: NameParams.properties.name,
  },
} as const;

export interface EmbedBodyT {
  text: string;
  collection?: string;
}

export const EmbedResponse = {
  type: 'object',
  properties: {
    collection: { type: 'string' },
    model: { type: 'string' },
    dimension: { type: 'integer' },
    vector: { type: 'array', items: { type: 'number' } },
  },
} as const;
