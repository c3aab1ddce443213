# syntax=docker/dockerfile:1
# lookalike in a container: `docker run IMAGE serve …`, `… worker …`, `… index …` (the image's entrypoint is the CLI).
# compose.yaml runs it as a deployment; docs/scale.md, "Deploying with compose", explains it.

# ── build: dependencies (with their native parts) and the compiled CLI ──
FROM node:22-slim AS build
WORKDIR /app
# compilers for a native module whose prebuilt binary cannot be had (better-sqlite3 then builds from source)
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
# onnxruntime-node's install script downloads CUDA libraries; this image runs the bundled CPU runtime
# (ONNXRUNTIME_NODE_INSTALL for onnxruntime-node 1.30, the _CUDA one for older versions: README, "Installing")
ENV ONNXRUNTIME_NODE_INSTALL_CUDA=skip \
    ONNXRUNTIME_NODE_INSTALL=skip
COPY package.json package-lock.json .npmrc ./
# `npm ci` runs the package's `prepare` script (the build) too, so the sources are in place before it
COPY tsconfig.json tsconfig.web.json ./
COPY src ./src
COPY web ./web
COPY models ./models
RUN npm ci
RUN npm run build \
 && npm prune --omit=dev

# ── run: Node, the production dependencies, dist/ and the bundled models; no compilers, not root ──
FROM node:22-slim
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/models ./models
# /cache: downloaded models (LOOKALIKE_CACHE=/cache in compose.yaml, a volume shared by the containers)
RUN mkdir -p /cache && chown node:node /cache
USER node
ENTRYPOINT ["node", "/app/dist/cli/main.js"]
CMD ["--help"]
