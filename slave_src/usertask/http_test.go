package usertask

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// httpTask builds a task calling h's server at /run.
func httpTask(t *testing.T, h http.HandlerFunc, edit func(*Spec)) *Task {
	t.Helper()
	srv := httptest.NewServer(h) // on 127.0.0.1
	t.Cleanup(srv.Close)
	return newTestTask(t, func(sp *Spec) { sp.HTTP = srv.URL + "/run" }, edit)
}

func TestHTTPRunsTheService(t *testing.T) {
	task := httpTask(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPost || r.URL.Path != "/run" || r.Header.Get("Content-Type") != "application/octet-stream" {
			http.Error(w, "wrong request "+r.Method+" "+r.URL.Path, http.StatusBadRequest)
			return
		}
		_, _ = w.Write(bytes.ToUpper(body))
	}, nil)
	out, err := task.Run(context.Background(), []byte("thumb\x00nail"))
	if err != nil || string(out) != "THUMB\x00NAIL" {
		t.Errorf("Run = %q, %v; want THUMB\\x00NAIL", out, err)
	}
}

func TestHTTPFailures(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	for _, tc := range []struct {
		name string
		h    http.HandlerFunc
		edit func(*Spec)
		in   []byte
		want string
	}{
		{"server error", func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "\nimage: unknown format\nat line 2", http.StatusUnprocessableEntity)
		}, nil, nil, "422 Unprocessable Entity: image: unknown format"},
		{"bare status", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) }, nil, nil, "503 Service Unavailable"},
		{"redirect", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "http://192.0.2.1/elsewhere", http.StatusTemporaryRedirect)
		}, nil, nil, `307 Temporary Redirect: redirects are not followed (to "http://192.0.2.1/elsewhere")`},
		{"over max-output", func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write(make([]byte, 4097))
		}, func(s *Spec) { s.MaxOutput = 4096 }, nil, "output exceeds max-output (4096 bytes)"},
		{"over max-input", func(w http.ResponseWriter, _ *http.Request) {
			t.Error("the service was called with an input over max-input")
		}, func(s *Spec) { s.MaxInput = 3 }, []byte("four"), "input of 4 bytes exceeds max-input (3 bytes)"},
		{"timeout before the answer", func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}, func(s *Spec) { s.Timeout = 50 * time.Millisecond }, nil, "timed out after 50ms"},
		{"timeout in the body", func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte("partial"))
			w.(http.Flusher).Flush()
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}, func(s *Spec) { s.Timeout = 50 * time.Millisecond }, nil, "timed out after 50ms"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := httpTask(t, tc.h, tc.edit).Run(context.Background(), tc.in)
			if err == nil || err.Error() != tc.want {
				t.Errorf("Run = %q, %v; want the error %q", out, err, tc.want)
			}
		})
	}
}

func TestHTTPServiceDown(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	task, err := New(Spec{Name: "t", HTTP: url, MaxInput: 10, MaxOutput: 10, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := task.Run(context.Background(), nil); err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("Run against a closed port = %v, want connection refused", err)
	}
}

// TestLane: a task with workers=1 runs one at a time; the second waits, and
// gives up when its context ends.
func TestLane(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	task := httpTask(t, func(w http.ResponseWriter, _ *http.Request) {
		entered <- struct{}{}
		<-release
	}, func(s *Spec) { s.Workers = 1 })
	if !task.OwnLane() {
		t.Fatal("workers=1 gives no lane")
	}
	first := make(chan error)
	go func() {
		_, err := task.Run(context.Background(), nil)
		first <- err
	}()
	<-entered
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := task.Run(ctx, nil); err != context.Canceled {
		t.Errorf("second Run while the lane is full: %v, want context.Canceled", err)
	}
	close(release)
	if err := <-first; err != nil {
		t.Errorf("first Run: %v", err)
	}
}
