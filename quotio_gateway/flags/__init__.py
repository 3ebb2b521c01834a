"""The rollout flag table: schema, compiled matcher, live store, audit trail, HTTP API."""
