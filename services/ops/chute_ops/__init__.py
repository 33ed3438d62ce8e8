"""chute's operator tooling: the `chute` command and what it runs beside the services
(bootstrap, the dev supervisor, the local AWS runner, the load test, client commands).
The services never import it; it may import them."""

__all__: list[str] = []
