# One image for every powersweep process: api, fitter and worker differ only by command.
FROM node:20-bookworm-slim
WORKDIR /app
# PyTorch (Debian's, CPU) for the reference exec trainer; GPU hosts use their own CUDA image
# and point the worker at it with --trainer-exec.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-torch libopenblas0-pthread \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
COPY apps ./apps
COPY packages ./packages
COPY prisma ./prisma
COPY prisma.config.ts tsconfig*.json ./
COPY scripts ./scripts
# npm ci generates the Prisma client and builds dist/ (tsc -b) and the dashboard (postinstall); the
# compiler and Prisma's CLI are dev dependencies, so they are installed too.
RUN npm ci --no-audit --no-fund --include=dev
ENV OPENBLAS_NUM_THREADS=1 NODE_ENV=production
EXPOSE 8080
# The compiled CLI: plain JavaScript, no TypeScript loader at run time.
ENTRYPOINT ["node", "apps/cli/dist/main.js"]
CMD ["api"]
