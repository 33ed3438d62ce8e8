"""Who is calling: API keys and OIDC JWTs, each mapped to a tenant."""
