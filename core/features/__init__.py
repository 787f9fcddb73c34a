"""Layer-0 inputs of the model: hashed name n-grams, scaled numbers, periodic dates, the relation vocabulary. May import core.data."""
