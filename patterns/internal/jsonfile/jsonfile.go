//go:build unix

// Package jsonfile is the store of the conformance suites' own tests: one
// value kept as JSON in a file and updated under an exclusive flock(2), so
// that the processes of one host update it one at a time, with no server.
package jsonfile

import (
	"encoding/json"
	"io"
	"os"
	"syscall"
)

// Update locks the file at path (creating it), reads its JSON into *v (left
// as given while the file is empty), runs fn and, when fn returns true,
// writes *v back. The lock is held until then. It returns the first error
// of the file or of the JSON; fn's own outcome travels through its closure.
func Update[T any](path string, v *T, fn func(v *T) (write bool)) error {
	fd, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	defer fd.Close()
	if err := syscall.Flock(int(fd.Fd()), syscall.LOCK_EX); err != nil {
		return err
	}
	data, err := io.ReadAll(fd)
	if err != nil {
		return err
	}
	if len(data) > 0 {
		if err := json.Unmarshal(data, v); err != nil {
			return err
		}
	}
	if !fn(v) {
		return nil
	}
	out, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if err := fd.Truncate(0); err != nil {
		return err
	}
	_, err = fd.WriteAt(out, 0)
	return err
}
