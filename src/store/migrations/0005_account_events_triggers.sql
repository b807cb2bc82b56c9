-- Audit history (design section 14): statement-level triggers with transition tables append one
-- kubesvc_account_events row per changed account, set-based, in the transaction of the change,
-- whoever makes it (API, interceptor, autoscan, the hub engine). The actor is the transaction-local
-- setting agenthub.actor; a transaction that does not set it is the hub's own.
CREATE FUNCTION "kubesvc_audit_actor"() RETURNS text LANGUAGE sql STABLE AS $$
	SELECT coalesce(nullif(current_setting('agenthub.actor', true), ''), 'hub')
$$;
--> statement-breakpoint
-- Redaction as in REST (src/accounts/redaction.ts): kubeconfigContents and any field whose name
-- contains token, password or secret (any case, any depth) become "<redacted>" unless the value
-- is a secret reference (encrypted:..., encryptedFile:...).
CREATE FUNCTION "kubesvc_audit_redact"(v jsonb) RETURNS jsonb LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
	IF jsonb_typeof(v) = 'object' THEN
		RETURN (SELECT coalesce(jsonb_object_agg(e.key, kubesvc_audit_redact_field(e.key, e.value)), '{}'::jsonb) FROM jsonb_each(v) AS e);
	ELSIF jsonb_typeof(v) = 'array' THEN
		RETURN (SELECT coalesce(jsonb_agg(kubesvc_audit_redact(x.value) ORDER BY x.i), '[]'::jsonb) FROM jsonb_array_elements(v) WITH ORDINALITY AS x(value, i));
	END IF;
	RETURN v;
END $$;
--> statement-breakpoint
CREATE FUNCTION "kubesvc_audit_redact_field"(k text, v jsonb) RETURNS jsonb LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
	IF v IS NULL THEN
		RETURN 'null'::jsonb;
	END IF;
	IF (k = 'kubeconfigContents' OR k ~* '(token|password|secret)')
		AND NOT (jsonb_typeof(v) = 'string' AND ((v #>> '{}') LIKE 'encrypted:%' OR (v #>> '{}') LIKE 'encryptedFile:%')) THEN
		RETURN '"<redacted>"'::jsonb;
	END IF;
	RETURN kubesvc_audit_redact(v);
END $$;
--> statement-breakpoint
-- The top-level definition fields that differ, with their new values (null when removed), redacted.
CREATE FUNCTION "kubesvc_audit_fields"(o jsonb, n jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
	SELECT coalesce(jsonb_object_agg(keys.k, kubesvc_audit_redact_field(keys.k, n -> keys.k)), '{}'::jsonb)
	FROM (SELECT jsonb_object_keys(coalesce(o, '{}'::jsonb)) UNION SELECT jsonb_object_keys(coalesce(n, '{}'::jsonb))) AS keys(k)
	WHERE (o -> keys.k) IS DISTINCT FROM (n -> keys.k)
$$;
--> statement-breakpoint
CREATE FUNCTION "kubesvc_account_events_inserted"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO kubesvc_account_events (account_name, actor, action, status, zone_id, fields)
	SELECT n.name, kubesvc_audit_actor(),
		CASE n.origin WHEN 'migrated' THEN 'migrate' WHEN 'static' THEN 'register' ELSE 'create' END,
		n.status, n.zone_id, kubesvc_audit_fields(NULL, n.definition)
	FROM inserted_rows AS n;
	RETURN NULL;
END $$;
--> statement-breakpoint
CREATE FUNCTION "kubesvc_account_events_updated"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO kubesvc_account_events (account_name, actor, action, status, zone_id, fields)
	SELECT n.name, kubesvc_audit_actor(),
		CASE WHEN o.definition IS DISTINCT FROM n.definition OR o.zone_id IS DISTINCT FROM n.zone_id THEN 'update' ELSE 'status' END,
		n.status, n.zone_id,
		CASE WHEN o.zone_id IS DISTINCT FROM n.zone_id THEN jsonb_build_object('zoneId', coalesce(n.zone_id, '')) ELSE '{}'::jsonb END
			|| CASE WHEN o.definition IS DISTINCT FROM n.definition THEN kubesvc_audit_fields(o.definition, n.definition) ELSE '{}'::jsonb END
	FROM updated_rows AS n JOIN previous_rows AS o ON o.name = n.name
	-- Only changes an operator would call one: a version bump or a new message alone is not.
	WHERE o.status IS DISTINCT FROM n.status OR o.zone_id IS DISTINCT FROM n.zone_id
		OR o.definition IS DISTINCT FROM n.definition OR o.agent_definition IS DISTINCT FROM n.agent_definition;
	RETURN NULL;
END $$;
--> statement-breakpoint
CREATE FUNCTION "kubesvc_account_events_deleted"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO kubesvc_account_events (account_name, actor, action, status, zone_id, fields)
	SELECT o.name, kubesvc_audit_actor(), 'delete', 'DELETED', o.zone_id, '{}'::jsonb FROM deleted_rows AS o;
	RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER "kubesvc_accounts_audit_insert" AFTER INSERT ON "kubesvc_accounts"
	REFERENCING NEW TABLE AS inserted_rows FOR EACH STATEMENT EXECUTE FUNCTION "kubesvc_account_events_inserted"();
--> statement-breakpoint
CREATE TRIGGER "kubesvc_accounts_audit_update" AFTER UPDATE ON "kubesvc_accounts"
	REFERENCING OLD TABLE AS previous_rows NEW TABLE AS updated_rows FOR EACH STATEMENT EXECUTE FUNCTION "kubesvc_account_events_updated"();
--> statement-breakpoint
CREATE TRIGGER "kubesvc_accounts_audit_delete" AFTER DELETE ON "kubesvc_accounts"
	REFERENCING OLD TABLE AS deleted_rows FOR EACH STATEMENT EXECUTE FUNCTION "kubesvc_account_events_deleted"();
