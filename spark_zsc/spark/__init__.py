"""The Spark layer: the pandas UDF over the engines, and the faces built on it (the
`ZeroShotClassifier` Transformer, the SQL function, the metrics accumulator)."""
