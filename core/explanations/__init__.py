"""Why the model scored a pair as it did: attention records from the forward pass that scored it, and their drawing. May import data, sampling, model, scoring."""
