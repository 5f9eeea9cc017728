-- AlterEnum
ALTER TYPE "SweepStatus" ADD VALUE 'creating';

