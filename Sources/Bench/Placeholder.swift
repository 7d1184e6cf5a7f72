// The Bench module (work in progress).
