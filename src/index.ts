/** lookalike — image similarity search. The public library API; the CLI and server are thin shells over it. */
export { openDatabase, LookalikeDatabase, Collection } from './lookalike.js';
export type {
  CollectionInfo,
  CreateCollectionOptions,
  OpenOptions,
  AddImageInput,
  AddImagesOptions,
  AddImagesResult,
  IndexCheckResult,
} from './lookalike.js';
export type { IndexOptions, IndexReport, IndexProgress, IndexFailure } from './ingest/folder.js';
export type { CompositeQuery, Crop, FoldedHit, Query, QueryTerm, SearchHit, SearchOptions, Strategy } from './search/search.js';
export { MAX_TERMS } from './search/search.js';
export { resolveConfig, defaultConfig, type Config } from './config.js';
export { LookalikeError, createError, isLookalikeError, ERROR_CODES, type ErrorCode } from './errors.js';
export { loadEmbedder, loadEmbedderForSpec, listModels, assertCompatible, type EmbedderOptions } from './embed/registry.js';
export type { Embedder, EmbedderSpec, Modality, PreparedImage, ImageInput, DecodedImage } from './embed/types.js';
export { decodeImage } from './image/decode.js';
export { walkImages, IMAGE_EXTENSIONS } from './ingest/walk.js';
export { openStore } from './store/registry.js';
export { INDEX_DEFAULTS, withIndexDefaults } from './store/spec.js';
export { FlatIndex } from './ann/flat.js';
export type { VectorIndex, ScoredKey, IndexSearchParams } from './ann/types.js';
export type {
  CollectionSpec,
  Hit,
  IndexSpec,
  Item,
  ItemInput,
  Metadata,
  MetadataValue,
  StoreCapabilities,
  StoreCollection,
  VectorStore,
  VectorSearchOptions,
  VectorType,
  Where,
  MetadataSummary,
  MetadataKeySummary,
  MetadataValueCount,
  MetadataSummaryOptions,
} from './store/types.js';
export type { FolderWatcher, SyncOptions, SyncReport, WatchOptions } from './ingest/watch.js';
export type { TuneOptions, TuneProgress, TuningInfo, ScoreQuantiles } from './tune/tune.js';
export type { WhitenOptions } from './tune/whiten.js';
export type { LdaOptions } from './tune/lda.js';
export type { CalibrateOptions } from './tune/calibrate.js';
export type { Reranker, RerankOptions } from './tune/rerank.js';
export type { FindDuplicatesOptions, DuplicatesResult, DuplicateGroup, DuplicateMember, CheckDuplicateOptions, CheckDuplicateResult, DuplicateMatch } from './duplicates/types.js';
export type { CollectionMap, MapCluster, MapMethod, MapOptions, MapPhase, MapPoint, MapProgress } from './map/types.js';
