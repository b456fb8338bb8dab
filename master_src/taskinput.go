package master

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
)

// readJob reads a request for task t into a job: a built-in's n from the
// query (/fibonacci?n=90), a slave's own task's input from the body of a
// POST or from the query (/sha?input=abc). It fails with the status to
// answer: 400 for a malformed request, 413 for input over the task's cap.
func (m *Master) readJob(w http.ResponseWriter, r *http.Request, t taskView) (job, int, error) {
	if t.Builtin != nil {
		n, err := parseQueryN(r, *t.Builtin)
		if err != nil {
			return job{}, http.StatusBadRequest, err
		}
		return job{name: t.Name, index: t.Index, builtin: true, n: n, load: t.Builtin.Load(n), timeout: m.opts.TaskTimeout}, 0, nil
	}
	input, status, err := readInput(w, r, t)
	if err != nil {
		return job{}, status, err
	}
	timeout := m.opts.TaskTimeout
	if t.Limits.Timeout > 0 {
		timeout = t.Limits.Timeout + slaveTimeoutGrace
	}
	return job{name: t.Name, index: t.Index, input: input, load: t.Limits.load(len(input)), timeout: timeout}, 0, nil
}

// readInput reads the input of a slave's own task: a POST's body, or a GET's
// one input parameter (which may be empty), at most t's max input.
func readInput(w http.ResponseWriter, r *http.Request, t taskView) ([]byte, int, error) {
	limit := t.Limits.MaxInput
	tooLong := func() error {
		return fmt.Errorf("input of %s too long: at most %d bytes", t.Name, limit)
	}
	if r.Method == http.MethodPost {
		b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, int64(limit)))
		var big *http.MaxBytesError
		switch {
		case errors.As(err, &big):
			return nil, http.StatusRequestEntityTooLarge, tooLong()
		case err != nil:
			return nil, http.StatusBadRequest, fmt.Errorf("reading the input of %s: %w", t.Name, err)
		}
		return b, 0, nil
	}
	usage := func() string {
		return fmt.Sprintf("use /%s?input=TEXT (URL-encoded), or POST /%s with the input as the body", t.Name, t.Name)
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, http.StatusBadRequest, fmt.Errorf("bad query string (%v): %s", err, usage())
	}
	s, ok, err := queryValue(q, "input", usage)
	switch {
	case err != nil:
		return nil, http.StatusBadRequest, err
	case !ok:
		return nil, http.StatusBadRequest, fmt.Errorf("missing input: %s", usage())
	case len(s) > limit:
		return nil, http.StatusRequestEntityTooLarge, tooLong()
	}
	return []byte(s), 0, nil
}
