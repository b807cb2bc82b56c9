# agent-hub container image: compiled JavaScript on Node 20, production dependencies only, non-root.
# Build: docker build -t agent-hub:0.1.0 .   Run: docker run -p 7002:7002 -e DATABASE_URL=... agent-hub:0.1.0
# test/deploy/dockerfile.test.ts runs these steps outside Docker (no engine on the CI machine).

# Stage 1: all dependencies (tsc is a devDependency), then `npm run build` → dist/.
FROM node:20-bookworm-slim AS build
WORKDIR /app
# patches/: fixes to dependencies that `npm ci` applies (postinstall: patch-package).
COPY package.json package-lock.json ./
COPY patches ./patches
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts ./scripts
COPY gen ./gen
COPY src ./src
RUN npm run build

# Stage 2: the runtime, without devDependencies, sources or tests.
FROM node:20-bookworm-slim
ENV NODE_ENV=production
# The embedded database's directory when DATABASE_URL is not set (writable by the node user).
ENV AGENT_HUB_DATA_DIR=/home/node/data
WORKDIR /app
COPY package.json package-lock.json ./
COPY patches ./patches
RUN npm ci --omit=dev --no-audit --no-fund
COPY --from=build /app/dist ./dist
COPY bin ./bin
# The node image's unprivileged user (uid 1000).
USER node
# 7002: gRPC, Connect, gRPC-Web, REST, /healthz, /readyz, /metrics; 9091: agents (grpc.agentPort).
EXPOSE 7002 9091
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 7002) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "dist/cli/main.js", "serve"]
