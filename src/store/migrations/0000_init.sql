CREATE TABLE "kubesvc_accounts" (
	"name" text COLLATE "C" PRIMARY KEY NOT NULL,
	"source" text NOT NULL,
	"origin" text NOT NULL,
	"type" text DEFAULT 'kubernetes' NOT NULL,
	"status" text NOT NULL,
	"zone_id" text,
	"definition" jsonb NOT NULL,
	"agent_definition" jsonb,
	"last_assignment_msg" text DEFAULT '' NOT NULL,
	"failed_count" integer DEFAULT 0 NOT NULL,
	"clouddriver_last_modified" bigint,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"version" integer DEFAULT 1 NOT NULL
);
--> statement-breakpoint
CREATE TABLE "kubesvc_agents" (
	"agent_id" text PRIMARY KEY NOT NULL,
	"zone_id" text DEFAULT '' NOT NULL,
	"hub_id" text NOT NULL,
	"connected_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_heartbeat" timestamp with time zone DEFAULT now() NOT NULL,
	"version" text DEFAULT '' NOT NULL,
	"labels" jsonb DEFAULT '{}'::jsonb NOT NULL
);
--> statement-breakpoint
CREATE TABLE "kubesvc_assignments" (
	"account_name" text NOT NULL,
	"agent_id" text NOT NULL,
	"hub_id" text NOT NULL,
	"caching" boolean DEFAULT false NOT NULL,
	"reachable" boolean DEFAULT true NOT NULL,
	"assigned_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "kubesvc_assignments_account_name_agent_id_pk" PRIMARY KEY("account_name","agent_id")
);
--> statement-breakpoint
CREATE TABLE "kubesvc_hubs" (
	"hub_id" text PRIMARY KEY NOT NULL,
	"address" text DEFAULT '' NOT NULL,
	"started_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_heartbeat" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE INDEX "kubesvc_accounts_status_idx" ON "kubesvc_accounts" USING btree ("status");--> statement-breakpoint
CREATE INDEX "kubesvc_assignments_agent_idx" ON "kubesvc_assignments" USING btree ("agent_id");