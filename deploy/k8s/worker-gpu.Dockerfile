# The GPU worker image: the powersweep app on a CUDA build of PyTorch.
#   docker build -f deploy/k8s/worker-gpu.Dockerfile -t registry.example.com/powersweep-gpu:0.1.0 .
FROM node:20-bookworm-slim AS node
FROM pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime
COPY --from=node /usr/local/bin/node /usr/local/bin/node
COPY --from=node /usr/local/lib/node_modules /usr/local/lib/node_modules
RUN ln -s /usr/local/lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
 && ln -s /usr/local/lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx
WORKDIR /app
ENV NODE_ENV=production POWERSWEEP_PYTHON=python3
COPY package.json package-lock.json ./
COPY apps ./apps
COPY packages ./packages
COPY prisma ./prisma
COPY prisma.config.ts tsconfig.base.json ./
COPY scripts ./scripts
RUN npm ci --no-audit --no-fund
ENTRYPOINT ["npx", "tsx", "apps/cli/src/main.ts"]
CMD ["worker", "--devices", "0"]
