-- AlterTable
ALTER TABLE "Trial" ADD COLUMN     "branchFrom" TEXT,
ADD COLUMN     "branchStep" INTEGER,
ADD COLUMN     "branchCheckpoint" TEXT;

-- CreateIndex
CREATE INDEX "Trial_sweepId_branchFrom_idx" ON "Trial"("sweepId", "branchFrom");
