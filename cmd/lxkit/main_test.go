package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestMain removes the lxkit binary the hostile tests built.
func TestMain(m *testing.M) {
	code := m.Run()
	if buildErr == nil && binary != "" {
		os.RemoveAll(filepath.Dir(binary))
	}
	os.Exit(code)
}
