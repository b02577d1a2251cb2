"""intentloop's pure domain core: resource models, topology, paths, compilation.

Nothing here performs I/O or imports Kubernetes, kopf or device libraries.
"""
