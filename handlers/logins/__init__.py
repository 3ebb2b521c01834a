"""Native logins: the provider endpoint table, browser (authorization-code) flows, the login API."""
