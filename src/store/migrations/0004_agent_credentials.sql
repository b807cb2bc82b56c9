CREATE TABLE "kubesvc_agent_credentials" (
	"agent_id" text PRIMARY KEY NOT NULL,
	"credential" text NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
