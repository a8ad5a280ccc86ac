"""Training the blur network (`blurtool train`): config, data made on the fly, losses, metrics and the loop."""
