"""The engine's network API: JSON over HTTP for requests and a WebSocket for job events (``docs/engine-api.md``).

``wire`` turns jobs and events into JSON and back, validating every field on both ends (no objects are ever
deserialised); ``server`` is the FastAPI application; ``client`` is the library the CLI, the app and the bridge
use, which checks every file path and digest before writing into a project."""
