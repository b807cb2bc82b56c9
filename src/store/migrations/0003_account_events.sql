CREATE TABLE "kubesvc_account_events" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"account_name" text COLLATE "C" NOT NULL,
	"at" timestamp with time zone DEFAULT now() NOT NULL,
	"actor" text NOT NULL,
	"action" text NOT NULL,
	"status" text NOT NULL,
	"zone_id" text,
	"fields" jsonb DEFAULT '{}'::jsonb NOT NULL
);
--> statement-breakpoint
CREATE INDEX "kubesvc_account_events_account_idx" ON "kubesvc_account_events" USING btree ("account_name","id");--> statement-breakpoint
CREATE INDEX "kubesvc_account_events_at_idx" ON "kubesvc_account_events" USING btree ("at");