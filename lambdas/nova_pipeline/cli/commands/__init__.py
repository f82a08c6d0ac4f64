"""One module per `nova-pipeline` subcommand; each exposes `register(subparsers)`. Kept out of the Lambda layer."""
