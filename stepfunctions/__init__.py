"""The customization state machine's definition, built in Python (`stepfunctions.workflow.definition`)."""
