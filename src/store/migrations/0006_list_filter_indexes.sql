DROP INDEX "kubesvc_accounts_status_idx";--> statement-breakpoint
CREATE INDEX "kubesvc_accounts_status_name_idx" ON "kubesvc_accounts" USING btree ("status","name");--> statement-breakpoint
CREATE INDEX "kubesvc_accounts_zone_name_idx" ON "kubesvc_accounts" USING btree ("zone_id","name");--> statement-breakpoint
CREATE INDEX "kubesvc_accounts_source_name_idx" ON "kubesvc_accounts" USING btree ("source","name");