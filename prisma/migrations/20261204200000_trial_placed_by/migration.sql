-- AlterTable
ALTER TABLE "Trial" ADD COLUMN     "placedBy" TEXT;
