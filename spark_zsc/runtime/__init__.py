"""Getting a model to a worker: model source (resolve, check, fingerprint on the driver) ->
distribution (broadcast, artifacts or path) -> node store (one verified copy per node) ->
worker cache (one loaded model per Python worker) -> an engine, on the task's device."""
