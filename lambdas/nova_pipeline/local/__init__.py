"""The offline twin: simulated Bedrock, in-process Lambda dispatch and the local state machine runner."""
