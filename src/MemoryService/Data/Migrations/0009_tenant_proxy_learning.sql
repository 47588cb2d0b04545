-- A tenant's default for the OpenAI-compatible proxy: learn from every exchange (a request's X-Memory-Learn header
-- still decides for that request). Off unless the tenant turns it on through PATCH /v1/settings.
ALTER TABLE tenants ADD COLUMN proxy_learning boolean NOT NULL DEFAULT false;
