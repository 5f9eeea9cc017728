-- CreateSchema
CREATE SCHEMA IF NOT EXISTS "public";

-- CreateEnum
CREATE TYPE "SweepKind" AS ENUM ('lr_grid', 'power_grid', 'import');

-- CreateEnum
CREATE TYPE "SweepStatus" AS ENUM ('queued', 'running', 'completed', 'cancelled');

-- CreateEnum
CREATE TYPE "TrialStatus" AS ENUM ('queued', 'running', 'succeeded', 'failed', 'diverged', 'cancelled');

-- CreateEnum
CREATE TYPE "WorkerState" AS ENUM ('idle', 'busy', 'stopping', 'stopped');

-- CreateTable
CREATE TABLE "Sweep" (
    "id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "kind" "SweepKind" NOT NULL,
    "spec" JSONB NOT NULL,
    "status" "SweepStatus" NOT NULL DEFAULT 'queued',
    "owner" TEXT,
    "tags" TEXT[],
    "trainer" TEXT NOT NULL DEFAULT 'tfjs',
    "priority" INTEGER NOT NULL DEFAULT 0,
    "maxAttempts" INTEGER NOT NULL DEFAULT 3,
    "trialCount" INTEGER NOT NULL DEFAULT 0,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,
    "finishedAt" TIMESTAMP(3),

    CONSTRAINT "Sweep_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Trial" (
    "id" UUID NOT NULL,
    "sweepId" UUID NOT NULL,
    "key" TEXT NOT NULL,
    "config" JSONB NOT NULL,
    "model" TEXT NOT NULL,
    "dModel" INTEGER,
    "tokens" DOUBLE PRECISION NOT NULL,
    "batchSize" INTEGER NOT NULL,
    "lr" DOUBLE PRECISION,
    "powerA" DOUBLE PRECISION,
    "powerB" DOUBLE PRECISION,
    "seed" INTEGER NOT NULL DEFAULT 0,
    "status" "TrialStatus" NOT NULL DEFAULT 'queued',
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "workerId" TEXT,
    "startedAt" TIMESTAMP(3),
    "finishedAt" TIMESTAMP(3),
    "resultAttempt" INTEGER,
    "trainLoss" DOUBLE PRECISION,
    "testLoss" DOUBLE PRECISION,
    "testPerplexity" DOUBLE PRECISION,
    "tokensSeen" DOUBLE PRECISION,
    "wallSeconds" DOUBLE PRECISION,
    "tokensPerSecond" DOUBLE PRECISION,
    "error" TEXT,
    "errorClass" TEXT,
    "checkpointPath" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "Trial_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "TrialMetric" (
    "id" BIGSERIAL NOT NULL,
    "trialId" UUID NOT NULL,
    "attempt" INTEGER NOT NULL,
    "step" INTEGER NOT NULL,
    "tokens" DOUBLE PRECISION NOT NULL,
    "lr" DOUBLE PRECISION NOT NULL,
    "trainLoss" DOUBLE PRECISION NOT NULL,
    "evalLoss" DOUBLE PRECISION,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "TrialMetric_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Fit" (
    "id" UUID NOT NULL,
    "sweepId" UUID,
    "inputHash" TEXT NOT NULL,
    "inputs" JSONB NOT NULL,
    "result" JSONB NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Fit_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Worker" (
    "id" TEXT NOT NULL,
    "host" TEXT NOT NULL,
    "pid" INTEGER NOT NULL,
    "devices" TEXT[],
    "backend" TEXT NOT NULL,
    "version" TEXT NOT NULL,
    "state" "WorkerState" NOT NULL DEFAULT 'idle',
    "currentTrialId" UUID,
    "tokensPerSecond" DOUBLE PRECISION,
    "startedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "lastHeartbeatAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Worker_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ApiToken" (
    "id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "secretHash" TEXT NOT NULL,
    "scopes" TEXT[],
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "lastUsedAt" TIMESTAMP(3),
    "revokedAt" TIMESTAMP(3),

    CONSTRAINT "ApiToken_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "Sweep_status_createdAt_idx" ON "Sweep"("status", "createdAt");

-- CreateIndex
CREATE INDEX "Sweep_createdAt_idx" ON "Sweep"("createdAt");

-- CreateIndex
CREATE INDEX "Trial_sweepId_status_idx" ON "Trial"("sweepId", "status");

-- CreateIndex
CREATE INDEX "Trial_sweepId_model_tokens_batchSize_idx" ON "Trial"("sweepId", "model", "tokens", "batchSize");

-- CreateIndex
CREATE INDEX "Trial_status_idx" ON "Trial"("status");

-- CreateIndex
CREATE UNIQUE INDEX "Trial_sweepId_key_key" ON "Trial"("sweepId", "key");

-- CreateIndex
CREATE INDEX "TrialMetric_trialId_tokens_idx" ON "TrialMetric"("trialId", "tokens");

-- CreateIndex
CREATE UNIQUE INDEX "TrialMetric_trialId_step_key" ON "TrialMetric"("trialId", "step");

-- CreateIndex
CREATE INDEX "Fit_sweepId_createdAt_idx" ON "Fit"("sweepId", "createdAt");

-- CreateIndex
CREATE UNIQUE INDEX "Fit_sweepId_inputHash_key" ON "Fit"("sweepId", "inputHash");

-- CreateIndex
CREATE INDEX "Worker_lastHeartbeatAt_idx" ON "Worker"("lastHeartbeatAt");

-- CreateIndex
CREATE UNIQUE INDEX "ApiToken_name_key" ON "ApiToken"("name");

-- CreateIndex
CREATE UNIQUE INDEX "ApiToken_secretHash_key" ON "ApiToken"("secretHash");

-- AddForeignKey
ALTER TABLE "Trial" ADD CONSTRAINT "Trial_sweepId_fkey" FOREIGN KEY ("sweepId") REFERENCES "Sweep"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "TrialMetric" ADD CONSTRAINT "TrialMetric_trialId_fkey" FOREIGN KEY ("trialId") REFERENCES "Trial"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Fit" ADD CONSTRAINT "Fit_sweepId_fkey" FOREIGN KEY ("sweepId") REFERENCES "Sweep"("id") ON DELETE CASCADE ON UPDATE CASCADE;

