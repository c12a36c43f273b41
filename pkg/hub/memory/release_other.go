//go:build !linux

package memory

// pageOutExecutable does nothing where MADV_PAGEOUT does not exist.
func pageOutExecutable() (int, error) { return 0, nil }
