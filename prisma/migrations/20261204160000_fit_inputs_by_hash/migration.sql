-- A fit references its input by "inputHash" and a row count. The list of every trial id it used
-- (tens of KB per fit, repeated by every refit) is dropped from stored fits.
UPDATE "Fit" SET "inputs" = "inputs" - 'trialIds' WHERE jsonb_exists("inputs", 'trialIds');
