CREATE TABLE "kubesvc_hub_messages" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"hub_id" text NOT NULL,
	"agent_id" text DEFAULT '' NOT NULL,
	"payload" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE INDEX "kubesvc_hub_messages_hub_idx" ON "kubesvc_hub_messages" USING btree ("hub_id","id");--> statement-breakpoint
CREATE UNIQUE INDEX "kubesvc_assignments_one_caching" ON "kubesvc_assignments" USING btree ("account_name") WHERE "kubesvc_assignments"."caching";