package usertask

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
)

// MaxFileSize caps a -tasks file: MaxOfferedTasks specs fit many times over.
const MaxFileSize = 1 << 20

// ReadFile reads a -tasks file.
func ReadFile(path string) ([]Spec, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("tasks file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("tasks file %s: %w", path, err)
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("tasks file %s: larger than %d bytes", path, MaxFileSize)
	}
	specs, err := ParseFile(data)
	if err != nil {
		return nil, fmt.Errorf("tasks file %s: %w", path, err)
	}
	return specs, nil
}

// ParseFile reads a JSON list of objects whose members are a spec's keys,
// each a string or a number:
//
//	[{"name": "sha", "exec": "sha256sum", "timeout": "5s", "workers": 2}]
//
// It reads token by token so that a key given twice in an object is an
// error, as in -task, instead of the last one silently winning.
func ParseFile(data []byte) ([]Spec, error) {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	if err := expectDelim(d, '['); err != nil {
		return nil, err
	}
	var specs []Spec
	for d.More() {
		pairs, err := readObject(d)
		if err != nil {
			return nil, fmt.Errorf("task %d: %w", len(specs)+1, err)
		}
		sp, err := build(pairs)
		if err != nil {
			return nil, fmt.Errorf("task %d: %w", len(specs)+1, err)
		}
		specs = append(specs, sp)
	}
	if err := expectDelim(d, ']'); err != nil {
		return nil, err
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, errors.New("bytes after the list")
	}
	return specs, nil
}

// readObject reads one object's members in order, strings and numbers only.
func readObject(d *json.Decoder) ([][2]string, error) {
	if err := expectDelim(d, '{'); err != nil {
		return nil, err
	}
	var pairs [][2]string
	for d.More() {
		key, err := d.Token()
		if err != nil {
			return nil, err
		}
		v, err := d.Token()
		if err != nil {
			return nil, err
		}
		switch v := v.(type) {
		case string:
			pairs = append(pairs, [2]string{key.(string), v})
		case json.Number:
			pairs = append(pairs, [2]string{key.(string), v.String()})
		default:
			return nil, fmt.Errorf("%s: the value must be a string or a number", key)
		}
	}
	return pairs, expectDelim(d, '}')
}

func expectDelim(d *json.Decoder, want json.Delim) error {
	tok, err := d.Token()
	if err != nil {
		return fmt.Errorf("want %s: %w", want, err)
	}
	if tok != want {
		return fmt.Errorf("want %s, got %v", want, tok)
	}
	return nil
}
