"""Layer 4, execution: the executor (cache, batching, counting, progress), the store, and Dask."""
