/** lookalike — image similarity search. The public library API; the CLI and server are thin shells over it. */
export { openDatabase, LookalikeDatabase, Collection } from './lookalike.js';
export type { CollectionInfo, CreateCollectionOptions, AddImageInput, AddImagesResult, IndexCheckResult } from './lookalike.js';
export { HnswIndex, type HnswParams } from './ann/hnsw.js';
export { resolveConfig, defaultConfig, type Config } from './config.js';
export { LookalikeError, createError, isLookalikeError, ERROR_CODES, type ErrorCode } from './errors.js';
export { loadEmbedder, loadEmbedderForSpec, listModels, assertCompatible } from './embed/registry.js';
export { resolveModel, MODEL_REGISTRY } from './embed/resolve.js';
export type { Embedder, EmbedderSpec, Modality, PreparedImage, ImageInput, DecodedImage } from './embed/types.js';
export { OnnxImageEmbedder } from './embed/onnx-image.js';
export { ClipEmbedder } from './embed/clip.js';
export { decodeImage } from './image/decode.js';
export { indexFolder, fileId } from './ingest/ingest.js';
export type { IndexOptions, IndexReport, IndexProgress, IndexFailure } from './ingest/ingest.js';
export { walkImages, IMAGE_EXTENSIONS } from './ingest/walk.js';
export { searchCollection, type Query, type SearchOptions } from './search/search.js';
export { openStore } from './store/registry.js';
export { EmbeddedStore } from './store/embedded.js';
export { FlatIndex } from './ann/flat.js';
export type {
  CollectionSpec,
  Hit,
  IndexSpec,
  Item,
  ItemInput,
  Metadata,
  MetadataValue,
  StoreCollection,
  VectorStore,
  VectorSearchOptions,
} from './store/types.js';
