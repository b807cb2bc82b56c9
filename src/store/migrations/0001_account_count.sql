-- The number of accounts, kept by statement-level triggers, so that GET /armory/accounts can
-- answer `total` without counting 100,000 rows on every page (count(*) was most of its latency).
CREATE TABLE "kubesvc_account_count" (
	"id" integer PRIMARY KEY DEFAULT 1 CHECK ("id" = 1),
	"total" bigint NOT NULL
);
--> statement-breakpoint
INSERT INTO "kubesvc_account_count" ("id", "total") SELECT 1, count(*) FROM "kubesvc_accounts";
--> statement-breakpoint
CREATE FUNCTION "kubesvc_account_count_inserted"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	UPDATE kubesvc_account_count SET total = total + (SELECT count(*) FROM inserted_rows) WHERE id = 1;
	RETURN NULL;
END $$;
--> statement-breakpoint
CREATE FUNCTION "kubesvc_account_count_deleted"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	UPDATE kubesvc_account_count SET total = total - (SELECT count(*) FROM deleted_rows) WHERE id = 1;
	RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER "kubesvc_accounts_counted_insert" AFTER INSERT ON "kubesvc_accounts"
	REFERENCING NEW TABLE AS inserted_rows FOR EACH STATEMENT EXECUTE FUNCTION "kubesvc_account_count_inserted"();
--> statement-breakpoint
CREATE TRIGGER "kubesvc_accounts_counted_delete" AFTER DELETE ON "kubesvc_accounts"
	REFERENCING OLD TABLE AS deleted_rows FOR EACH STATEMENT EXECUTE FUNCTION "kubesvc_account_count_deleted"();
