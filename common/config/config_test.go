package config

import (
	"errors"
	"fmt"
	"io/fs"
	"testing"
)

func TestInvalid(t *testing.T) {
	t.Parallel()
	inner := fmt.Errorf("reading: %w", fs.ErrNotExist)
	err := fmt.Errorf("slave: %w", Invalid(inner))
	if !errors.Is(err, ErrInvalid) || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("%v: want both ErrInvalid and the wrapped cause", err)
	}
	if err.Error() != "slave: reading: file does not exist" {
		t.Fatalf("message changed: %q", err)
	}
	if errors.Is(inner, ErrInvalid) {
		t.Fatal("an unmarked error counts as invalid configuration")
	}
}
