"""chute's HTTP API. The app factory is `chute_api.app.create_app`."""
