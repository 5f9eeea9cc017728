-- AlterTable
ALTER TABLE "Sweep" ADD COLUMN     "idempotencyKey" TEXT;

-- AlterTable
ALTER TABLE "Trial" ADD COLUMN     "leaseUntil" TIMESTAMPTZ(3);

-- CreateIndex
CREATE UNIQUE INDEX "Sweep_idempotencyKey_key" ON "Sweep"("idempotencyKey");

-- CreateIndex
CREATE INDEX "Trial_status_leaseUntil_idx" ON "Trial"("status", "leaseUntil");

