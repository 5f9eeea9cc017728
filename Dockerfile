# One image for every powersweep process: api, fitter and worker differ only by command.
FROM node:20-bookworm-slim
WORKDIR /app
# PyTorch (Debian's, CPU) for the reference exec trainer; GPU hosts use their own CUDA image
# and point the worker at it with --trainer-exec.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-torch libopenblas0-pthread \
 && rm -rf /var/lib/apt/lists/*
ENV OPENBLAS_NUM_THREADS=1 NODE_ENV=production
COPY package.json package-lock.json ./
COPY apps ./apps
COPY packages ./packages
COPY prisma ./prisma
COPY prisma.config.ts tsconfig.base.json ./
COPY scripts ./scripts
RUN npm ci --no-audit --no-fund && npm run build -w @powersweep/web --if-present
EXPOSE 8080
ENTRYPOINT ["npx", "tsx", "apps/cli/src/main.ts"]
CMD ["api"]
