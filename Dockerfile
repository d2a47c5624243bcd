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
# In the same layer, out of node_modules what Node never loads (about 130 MB of 225): source maps (nothing runs with
# --enable-source-maps), TypeScript declarations, and the browser, React Native and workerd builds of scoped packages
# (the Azure SDK's; Node resolves them under no condition it sets). The image tier checks every entry point Node can
# resolve still exists and every dependency still imports.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
    && npm cache clean --force \
    && rm -rf /tmp/* /root/.npm \
    && find node_modules -type f \( -name '*.map' -o -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' \) -delete \
    && find node_modules -type d \( -name browser -o -name react-native -o -name workerd \) -path '*/@*/*/dist/*' -prune -exec rm -rf {} +
COPY --from=build /src/dist/ dist/
COPY crds/ crds/
# Numeric, so Kubernetes can verify runAsNonRoot; no home directory or shell login is needed.
USER 65532:65532
EXPOSE 8080 8081
ENTRYPOINT ["node", "dist/main.js"]
CMD ["run"]
