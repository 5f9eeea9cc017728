-- CreateTable
CREATE TABLE "TrialCurve" (
    "trialId" UUID NOT NULL,
    "attempt" INTEGER NOT NULL,
    "curve" JSONB NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "TrialCurve_pkey" PRIMARY KEY ("trialId","attempt")
);

-- AddForeignKey
ALTER TABLE "TrialCurve" ADD CONSTRAINT "TrialCurve_trialId_fkey" FOREIGN KEY ("trialId") REFERENCES "Trial"("id") ON DELETE CASCADE ON UPDATE CASCADE;

