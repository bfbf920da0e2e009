"""The recommendation engine: arrays in, arrays out. No Django import anywhere in this package."""
