# syntax=docker/dockerfile:1
# hsm-operator image: TypeScript compiled in a build stage; the runtime stage holds only production
# dependencies, dist/ and crds/, runs as uid 65532 and writes nothing outside /tmp (read-only root filesystem).
#   docker build -t hsm-operator:0.1.0 .
ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
# --ignore-scripts: no dependency needs an install script to compile (ssh2 falls back to pure JS).
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src/ src/
RUN npm run build

FROM ${NODE_IMAGE} AS runtime
# A small young generation: V8's default keeps ~128 MiB of semi-space after start-up, which the operator never needs
# (bench/RESULTS.md, memory: 335 -> 207 MiB RSS with 5,000 bindings and 100 HSMs cached).
ENV NODE_ENV=production \
    HOME=/tmp \
    NODE_OPTIONS=--max-semi-space-size=4
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
    && npm cache clean --force \
    && rm -rf /tmp/* /root/.npm
COPY --from=build /src/dist/ dist/
COPY crds/ crds/
# Numeric, so Kubernetes can verify runAsNonRoot; no home directory or shell login is needed.
USER 65532:65532
EXPOSE 8080 8081
ENTRYPOINT ["node", "dist/main.js"]
CMD ["run"]
