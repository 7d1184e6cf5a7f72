// The Cluster module (work in progress).
